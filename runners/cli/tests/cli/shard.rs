//! Sharded plans: `--shard K/N` runs merged by `report` (the same cells as the unsharded run,
//! missing or foreign shards refused, machine types apart), results through a pod's log
//! (`--results-to-stdout`, `k8s collect`) and the Kubernetes manifests of `k8s emit`.

use super::*;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Three filters without other languages: three units, one per shard.
const FILTERS: &str = "jwt-auth,rate-limit,metrics";

/// Starts `filterbench ARGS` on one CPU (`cpu` modulo this machine's), so that runs in
/// parallel do not measure on the same core.
fn spawn_on(cpu: usize, args: &[String], env: &[(&str, &str)]) -> std::process::Child {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = cpu % cpus;
    let mut command = Command::new(env!("CARGO_BIN_EXE_filterbench"));
    command
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
    command.spawn().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// What a cell is, apart from its times: (filter, engine, workload) → conformance, error kind,
/// differences and observed effects.
fn behaviour(results: &serde_json::Value) -> BTreeMap<String, String> {
    results["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!("{} {} {}", c["filter"], c["engine"], c["workload"]),
                format!(
                    "{} {} {} {}",
                    c["conformance"], c["error_kind"], c["diff"], c["observed"]
                ),
            )
        })
        .collect()
}

/// The three shards of a quick run, run in parallel on separate CPUs (shard 2 gets its index
/// as a Kubernetes pod does), next to the unsharded run: (folder, shard files, unsharded file,
/// each shard's stdout).
fn sharded_and_whole() -> (tempfile::TempDir, Vec<PathBuf>, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "run",
        "--quick",
        "--no-report",
        "--filter",
        FILTERS,
        "--engine",
        "native,wasmtime-cranelift",
    ];
    let whole = dir.path().join("whole.json");
    let mut children = Vec::new();
    let mut files = Vec::new();
    for k in 1..=3u32 {
        let file = dir.path().join(format!("shard{k}.json"));
        let mut args = strings(&common);
        args.extend(strings(&["--results-to-stdout", "--out"]));
        args.push(file.display().to_string());
        args.push("--shard".to_owned());
        let env: &[(&str, &str)] = if k == 2 {
            args.push("3".to_owned());
            &[("JOB_COMPLETION_INDEX", "1")]
        } else {
            args.push(format!("{k}/3"));
            &[]
        };
        children.push(spawn_on(k as usize, &args, env));
        files.push(file);
    }
    let mut args = strings(&common);
    args.extend(["--out".to_owned(), whole.display().to_string()]);
    children.push(spawn_on(0, &args, &[]));
    let mut stdouts = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}\n{}",
            text(&output.stderr),
            text(&output.stdout)
        );
        stdouts.push(text(&output.stdout));
    }
    stdouts.pop();
    (dir, files, whole, stdouts)
}

#[test]
fn shards_merge_into_the_unsharded_matrix_and_incomplete_or_foreign_sets_are_refused() {
    let (dir, files, whole, stdouts) = sharded_and_whole();
    let d = dir.path();
    let mut units = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let json = read(file);
        let shard = &json["shards"][0];
        assert_eq!(shard["index"], k as u64 + 1, "{shard}");
        assert_eq!(shard["of"], 3);
        assert_eq!(shard["plan"], read(&files[0])["shards"][0]["plan"]);
        units.extend(
            shard["units"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned()),
        );
        assert!(
            schema_errors(&json).is_empty(),
            "{:?}",
            schema_errors(&json)
        );
    }
    units.sort();
    assert_eq!(units, ["jwt-auth", "metrics", "rate-limit"]);

    // The merged shards have the unsharded run's cells, behaving the same.
    let report = d.join("report");
    let mut args = vec!["report", "--out", report.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let output = filterbench(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let merged = read(&report.join("results.json"));
    let unsharded = read(&whole);
    assert_eq!(behaviour(&merged), behaviour(&unsharded));
    let timed = |r: &serde_json::Value| -> Vec<String> {
        r["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !c["ratio_to_native"].is_null())
            .map(|c| format!("{} {} {}", c["filter"], c["engine"], c["workload"]))
            .collect()
    };
    assert!(!timed(&merged).is_empty());
    assert_eq!(timed(&merged), timed(&unsharded));
    assert_eq!(merged["shards"].as_array().unwrap().len(), 3);
    assert_eq!(merged["settings"]["runs"], 1);

    // A missing shard is named.
    let output = filterbench(&[
        "report",
        "--out",
        d.join("r2").to_str().unwrap(),
        files[0].to_str().unwrap(),
        files[2].to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("shard 2 missing"), "{stderr}");
    assert!(!d.join("r2").exists());

    // A shard of another build, or built from other modules, is refused.
    for (field, value, what) in [
        ("tool", "0.0.9+0123456789ab", "filterbench builds differ"),
        (
            "wasm_digest",
            "0000000000000000",
            "WebAssembly modules differ",
        ),
    ] {
        let mut json = read(&files[1]);
        json["shards"][0][field] = value.into();
        let foreign = d.join("foreign.json");
        std::fs::write(&foreign, serde_json::to_vec(&json).unwrap()).unwrap();
        let output = filterbench(&[
            "report",
            "--out",
            d.join("r3").to_str().unwrap(),
            files[0].to_str().unwrap(),
            foreign.to_str().unwrap(),
            files[2].to_str().unwrap(),
        ]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(what), "{stderr}");
        assert!(stderr.contains(value), "{stderr}");
    }

    // The same shards from another machine type: a report each, side by side, never pooled.
    let mut args = vec![
        "report".to_owned(),
        "--out".to_owned(),
        d.join("machines").display().to_string(),
    ];
    for file in &files {
        let mut json = read(file);
        json["environment"]["cpu_model"] = "Imaginary Neoverse".into();
        json["environment"]["arch"] = "aarch64".into();
        let other = file.with_extension("arm.json");
        std::fs::write(&other, serde_json::to_vec(&json).unwrap()).unwrap();
        args.push(file.display().to_string());
        args.push(other.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = filterbench(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let page = std::fs::read_to_string(d.join("machines/index.html")).unwrap();
    assert!(page.contains("2 machine types"), "{page}");
    assert!(page.contains("aarch64 · Imaginary Neoverse"), "{page}");
    let local = read(&files[0])["environment"]["cpu_model"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(page.contains(&local), "{page}");
    let arm = read(&d.join("machines/aarch64-imaginary-neoverse/results.json"));
    assert_eq!(arm["shards"].as_array().unwrap().len(), 3);
    assert_eq!(behaviour(&arm), behaviour(&unsharded));
    assert!(arm["cells"].as_array().unwrap().iter().all(|c| {
        c["steady"].is_null()
            || c["steady"]["rounds"]["lifecycles"]
                .as_array()
                .unwrap()
                .len()
                <= 20
    }));

    // The shards' results come back from a log of several pods, interleaved, with kubectl's
    // prefixes.
    let logs: Vec<Vec<&str>> = stdouts.iter().map(|s| s.lines().collect()).collect();
    let mut log = String::new();
    for line in 0..logs.iter().map(Vec::len).max().unwrap() {
        for (pod, lines) in logs.iter().enumerate() {
            if let Some(l) = lines.get(line) {
                log.push_str(&format!("[pod/filterbench-{pod}-x7k2q/filterbench] {l}\n"));
            }
        }
    }
    let log_file = d.join("pods.log");
    std::fs::write(&log_file, &log).unwrap();
    let collected = d.join("collected");
    let output = filterbench(&[
        "k8s",
        "collect",
        log_file.to_str().unwrap(),
        "--out",
        collected.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&collected)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let plan = read(&files[0])["shards"][0]["plan"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        names,
        (1..=3)
            .map(|k| format!("run-{plan}-shard-{k}-of-3.json"))
            .collect::<Vec<_>>()
    );
    for (k, file) in files.iter().enumerate() {
        let back = read(&collected.join(&names[k]));
        assert_eq!(back, read(file), "shard {}", k + 1);
    }
    // A log cut off inside a block is an error that says why.
    let cut = d.join("cut.log");
    std::fs::write(&cut, &log[..log.len() * 2 / 3]).unwrap();
    let output = filterbench(&[
        "k8s",
        "collect",
        cut.to_str().unwrap(),
        "--out",
        d.join("c2").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is cut off"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_shard_that_would_run_nothing_or_has_no_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = quick_run(dir.path(), &["--filter", "jwt-auth", "--shard", "1/2"]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("only 1 unit(s) to share out (jwt-auth)"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(["run", "--quick", "--filter", FILTERS, "--shard", "3"])
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--shard 3 does not say which shard this is"),
        "{stderr}"
    );
}

#[test]
fn emitted_manifests_are_as_reviewed_and_read_back_into_the_typed_objects() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::ConfigMap;
    let output = filterbench(&[
        "k8s",
        "emit",
        "--shards",
        "4",
        "--parallelism",
        "2",
        "--name",
        "fb-arm",
        "--image",
        "registry.example/filterbench:1",
        "--node-selector",
        "kubernetes.io/arch=arm64",
        "--volume-claim",
        "filterbench-results",
        "--",
        "--engine",
        "wasmtime,native",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let yaml = text(&output.stdout);
    insta::assert_snapshot!("k8s_emit_matrix", yaml);
    let job: Job = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(serde_saphyr::to_string(&job).unwrap(), yaml);
    let spec = job.spec.unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(4), Some(2)));
    let pod = spec.template.spec.unwrap();
    let resources = pod.containers[0].resources.clone().unwrap();
    assert_eq!(resources.requests, resources.limits, "Guaranteed QoS");
    assert!(pod.affinity.unwrap().pod_anti_affinity.is_some());

    // A user's spec travels in a ConfigMap with the files it names.
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/token-refresh.yaml");
    let output = filterbench(&[
        "k8s",
        "emit",
        "--shards",
        "1",
        "--envoy",
        "--allow-shared-nodes",
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let yaml = text(&output.stdout);
    insta::assert_snapshot!("k8s_emit_spec", yaml);
    let (config_map, job) = yaml.split_once("\n---\n").unwrap();
    let config_map: ConfigMap = serde_saphyr::from_str(config_map).unwrap();
    let job: Job = serde_saphyr::from_str(job).unwrap();
    let again = format!(
        "{}---\n{}",
        serde_saphyr::to_string(&config_map).unwrap(),
        serde_saphyr::to_string(&job).unwrap()
    );
    assert_eq!(again, yaml);
    assert!(config_map.data.unwrap().contains_key("token-refresh.yaml"));
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(args[..3], ["envoy", "--shard", "1"]);
    assert!(
        args.contains(&"/config/token-refresh.yaml".to_owned()),
        "{args:?}"
    );

    // Bad input is named.
    let cases: [(&[&str], &str); 4] = [
        (
            &["k8s", "emit", "--shards", "2", "--name", "Bad_Name"],
            "--name \"Bad_Name\"",
        ),
        (
            &["k8s", "emit", "--shards", "2", "--node-selector", "arm64"],
            "give KEY=VALUE",
        ),
        (
            &["k8s", "emit", "--shards", "2", "--", "--shard", "1/2"],
            "--shard after `--`",
        ),
        (
            &[
                "k8s",
                "emit",
                "--shards",
                "2",
                "--spec",
                spec.to_str().unwrap(),
            ],
            "one unit, so one shard",
        ),
    ];
    for (args, expected) in cases {
        let output = filterbench(args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            text(&output.stderr).contains(expected),
            "{}",
            text(&output.stderr)
        );
    }
}

#[test]
fn envoy_shards_merge_into_the_unsharded_envoy_matrix() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], name: &str| -> serde_json::Value {
        let out = dir.path().join(name);
        let mut args = vec![
            "envoy",
            "--envoy",
            &envoy,
            "--quick",
            "--filter",
            "noop,headers",
            "--variant",
            "v8",
            "--no-report",
            "--no-host-conformance",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(SHORT_LOAD_ARGS);
        args.extend(extra);
        let output = filterbench(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        read(&out)
    };
    let whole = run(&[], "whole.json");
    run(&["--shard", "1/2"], "s1.json");
    run(&["--shard", "2/2"], "s2.json");
    let report = dir.path().join("report");
    let output = filterbench(&[
        "report",
        "--out",
        report.to_str().unwrap(),
        dir.path().join("s1.json").to_str().unwrap(),
        dir.path().join("s2.json").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let merged = read(&report.join("results.json"));
    let records = |r: &serde_json::Value| -> Vec<String> {
        let mut all: Vec<String> = r["envoy"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| {
                format!(
                    "{} {} conformant={} error={}",
                    run["filter"], run["variant"], run["conformant"], run["error"]
                )
            })
            .collect();
        all.sort();
        all
    };
    assert_eq!(records(&merged), records(&whole));
    assert_eq!(records(&whole).len(), 4, "{:?}", records(&whole));
    assert_eq!(
        merged["envoy"]["settings"]["rounds"],
        whole["envoy"]["settings"]["rounds"]
    );
}

/// `--measure time` with one short round (the shard test compares records, not figures).
const SHORT_LOAD_ARGS: [&str; 4] = ["--measure", "time", "--rate", "300"];
