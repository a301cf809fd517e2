//! `filterbench k8s`: the matrix sharded over a Kubernetes cluster as an Indexed Job (`emit`),
//! and the shards' results read back from the pods' logs (`collect`), ready for `report`.

mod logs;
pub mod manifest;

pub use logs::print as print_results;

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `filterbench k8s …`.
#[derive(clap::Subcommand)]
pub enum K8sAction {
    /// Write the Kubernetes manifests of a sharded run: an Indexed Job (one pod per shard,
    /// Guaranteed QoS, one shard per node) and, with --spec, a ConfigMap with your spec.
    Emit(Box<EmitArgs>),
    /// Read the shards' results from `kubectl logs` output (files, or stdin) and write them as
    /// results files for `filterbench report`.
    Collect {
        /// Log files (default, or `-`: stdin).
        #[arg(value_name = "LOG")]
        logs: Vec<PathBuf>,
        /// Folder to write the results files into.
        #[arg(long, default_value = "results/shards")]
        out: PathBuf,
    },
}

/// Arguments of `filterbench k8s emit`.
#[derive(clap::Args)]
pub struct EmitArgs {
    /// Shards: the Job's completions; each pod runs `--shard N` with its index.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    shards: u32,
    /// Pods running at a time (default: all shards).
    #[arg(long)]
    parallelism: Option<u32>,
    /// The pods run `filterbench envoy` (the Envoy matrix) instead of `filterbench run`.
    #[arg(long)]
    envoy: bool,
    /// Container image built from the repository's Dockerfile.
    #[arg(long, default_value = "filterbench:latest")]
    image: String,
    /// Name of the Job (and of its ConfigMap).
    #[arg(long, default_value = "filterbench")]
    name: String,
    /// Namespace of the objects (default: kubectl's current one).
    #[arg(long)]
    namespace: Option<String>,
    /// A node label the pods must match, e.g. `kubernetes.io/arch=arm64` (repeatable): one
    /// machine type per Job.
    #[arg(long, value_name = "KEY=VALUE")]
    node_selector: Vec<String>,
    /// Whole CPUs per pod, requested and limited alike (default: 2 for run, 4 for --envoy).
    #[arg(long)]
    cpus: Option<u32>,
    /// Memory per pod, requested and limited alike.
    #[arg(long, default_value = "8Gi")]
    memory: String,
    /// Let two shards share a node (default: at most one per node, so shards do not compete
    /// for a node's memory bandwidth and caches).
    #[arg(long)]
    allow_shared_nodes: bool,
    /// A filter spec file: shipped in a ConfigMap with the files it names, and run by every pod.
    #[arg(long, value_name = "FILE.yaml")]
    spec: Option<PathBuf>,
    /// Also write each shard's results file into this PersistentVolumeClaim (mounted at
    /// /results) besides printing it to the log.
    #[arg(long, value_name = "CLAIM")]
    volume_claim: Option<String>,
    /// How long the Job may run in all, e.g. 3h.
    #[arg(long, default_value = "3h", value_parser = humantime::parse_duration)]
    deadline: std::time::Duration,
    /// Where to write the manifests (default: stdout).
    #[arg(long, value_name = "FILE.yaml")]
    out: Option<PathBuf>,
    /// Further arguments for `filterbench run` / `envoy` in every pod, after `--`, e.g.
    /// `-- --engine wasmtime,native --quick`.
    #[arg(last = true)]
    extra: Vec<String>,
}

/// Runs `filterbench k8s ACTION`.
pub fn command(action: K8sAction) -> Result<()> {
    match action {
        K8sAction::Emit(args) => emit(*args),
        K8sAction::Collect { logs, out } => {
            let written = logs::collect(&logs, &out)?;
            for path in &written {
                println!("{}", path.display());
            }
            eprintln!(
                "{} results file(s) written to {}; next: filterbench report {}/*.json",
                written.len(),
                out.display(),
                out.display()
            );
            Ok(())
        }
    }
}

fn emit(args: EmitArgs) -> Result<()> {
    let mut node_selector = BTreeMap::new();
    for pair in &args.node_selector {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--node-selector {pair:?}: give KEY=VALUE, e.g. kubernetes.io/arch=amd64");
        };
        node_selector.insert(key.to_owned(), value.to_owned());
    }
    for flag in ["--shard", "--out", "--results-to-stdout", "--spec"] {
        if args
            .extra
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        {
            bail!("{flag} after `--`: emit sets it for every pod; leave it out");
        }
    }
    let plan = manifest::JobPlan {
        name: args.name,
        namespace: args.namespace,
        image: args.image,
        shards: args.shards,
        parallelism: args.parallelism.unwrap_or(args.shards),
        cpus: args.cpus.unwrap_or(if args.envoy { 4 } else { 2 }),
        memory: args.memory,
        envoy: args.envoy,
        node_selector,
        allow_shared_nodes: args.allow_shared_nodes,
        spec: args.spec,
        volume_claim: args.volume_claim,
        deadline_seconds: args.deadline.as_secs().max(60) as i64,
        extra: args.extra,
    };
    let manifests = manifest::build(&plan)?;
    let yaml = manifest::to_yaml(&manifests)?;
    // What is written must read back into the same typed objects.
    if manifest::from_yaml(&yaml)? != manifests {
        bail!("the manifests do not read back as written (a bug in filterbench: please report it)");
    }
    match args.out {
        None => print!("{yaml}"),
        Some(path) => {
            filterbench_harness::paths::write_atomic(&path, yaml.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {}: kubectl apply -f {}, then kubectl wait --for=condition=complete job/{} --timeout={}",
                path.display(),
                path.display(),
                plan.name,
                humantime::format_duration(std::time::Duration::from_secs(
                    plan.deadline_seconds as u64
                ))
            );
        }
    }
    Ok(())
}
