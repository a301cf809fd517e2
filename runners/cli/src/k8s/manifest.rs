//! The Kubernetes objects of a sharded run, built from the typed API structs of `k8s-openapi`:
//! an Indexed Job whose pods each run one shard (`--shard N`, the index from
//! `JOB_COMPLETION_INDEX`) with Guaranteed QoS, one shard per node by default, and, for a
//! user's spec, a ConfigMap holding the spec and the files it names.

use anyhow::{Context, Result, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, KeyToPath,
    ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodAffinityTerm, PodAntiAffinity,
    PodSpec, PodTemplateSpec, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Where the ConfigMap's files appear in the pod.
const CONFIG_DIR: &str = "/config";
/// Where the results volume is mounted.
const RESULTS_DIR: &str = "/results";
/// A ConfigMap holds at most 1 MiB.
const CONFIG_MAP_LIMIT: usize = 1 << 20;
/// Exit status of a run whose cells failed their checks: its results are complete and in the
/// log, so the index is not run again.
const FAILED_CELLS: i32 = crate::FAILED_CELLS_EXIT_STATUS;

/// What to emit.
#[derive(Clone, Debug)]
pub struct JobPlan {
    /// Name of the Job (and ConfigMap), a DNS label.
    pub name: String,
    /// Namespace, if not the current one.
    pub namespace: Option<String>,
    /// Container image.
    pub image: String,
    /// Shards (the Job's completions).
    pub shards: u32,
    /// Pods at a time.
    pub parallelism: u32,
    /// Whole CPUs per pod (requests = limits).
    pub cpus: u32,
    /// Memory per pod (requests = limits), e.g. `8Gi`.
    pub memory: String,
    /// `envoy` instead of `run`.
    pub envoy: bool,
    /// Node labels a pod must match.
    pub node_selector: BTreeMap<String, String>,
    /// Whether two shards may share a node.
    pub allow_shared_nodes: bool,
    /// A user's spec file, shipped in a ConfigMap with the files it names.
    pub spec: Option<PathBuf>,
    /// A PersistentVolumeClaim to write each shard's results file into, besides the log.
    pub volume_claim: Option<String>,
    /// Seconds the Job may run in all.
    pub deadline_seconds: i64,
    /// More arguments for `filterbench run` / `envoy` (engines, filters, --quick…).
    pub extra: Vec<String>,
}

/// The objects to apply, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifests {
    /// The spec's ConfigMap, when there is a spec.
    pub config_map: Option<ConfigMap>,
    /// The Indexed Job.
    pub job: Job,
}

/// Builds the objects for `plan`.
pub fn build(plan: &JobPlan) -> Result<Manifests> {
    check_name(&plan.name)?;
    if plan.shards == 0 || plan.parallelism == 0 || plan.cpus == 0 {
        bail!("--shards, --parallelism and --cpus must be at least 1");
    }
    let command = if plan.envoy { "envoy" } else { "run" };
    if plan.spec.is_some() && plan.shards > 1 {
        bail!(
            "a spec describes one filter: one unit, so one shard (--shards 1); to run it on several machine types, emit one Job per type (--name, --node-selector)"
        );
    }
    if plan.envoy && plan.cpus < 2 {
        bail!(
            "filterbench envoy pins Envoy and the load generator to separate cores: give --cpus 2 or more"
        );
    }
    let mut args = vec![
        command.to_owned(),
        "--shard".to_owned(),
        plan.shards.to_string(),
        "--results-to-stdout".to_owned(),
        "--no-report".to_owned(),
    ];
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let config_map = match &plan.spec {
        None => None,
        Some(spec) => {
            let (config_map, items, spec_key) = spec_config_map(&plan.name, spec)?;
            args.extend(["--spec".to_owned(), format!("{CONFIG_DIR}/{spec_key}")]);
            volumes.push(Volume {
                name: "spec".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: plan.name.clone(),
                    items: Some(items),
                    ..Default::default()
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: "spec".to_owned(),
                mount_path: CONFIG_DIR.to_owned(),
                read_only: Some(true),
                ..Default::default()
            });
            Some(config_map)
        }
    };
    // Kubernetes expands `$(JOB_COMPLETION_INDEX)` in arguments from the variable below.
    let out = match &plan.volume_claim {
        Some(claim) => {
            volumes.push(Volume {
                name: "results".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: None,
                }),
                ..Default::default()
            });
            mounts.push(VolumeMount {
                name: "results".to_owned(),
                mount_path: RESULTS_DIR.to_owned(),
                ..Default::default()
            });
            format!(
                "{RESULTS_DIR}/{}-{command}-shard-$(JOB_COMPLETION_INDEX).json",
                plan.name
            )
        }
        None => format!("/tmp/{command}-shard.json"),
    };
    args.extend(["--out".to_owned(), out]);
    args.extend(plan.extra.iter().cloned());

    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "filterbench".to_owned(),
        ),
        ("app.kubernetes.io/instance".to_owned(), plan.name.clone()),
    ]);
    let whole = |amount: String| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(plan.cpus.to_string())),
            ("memory".to_owned(), Quantity(amount)),
        ])
    };
    let container = Container {
        name: "filterbench".to_owned(),
        image: Some(plan.image.clone()),
        command: Some(vec!["filterbench".to_owned()]),
        args: Some(args),
        env: Some(vec![EnvVar {
            name: crate::shard::INDEX_VARIABLE.to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                        .to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        // Requests equal to limits, in whole CPUs: Guaranteed QoS, so a node whose kubelet has
        // the static CPU manager policy gives the pod cores of its own.
        resources: Some(ResourceRequirements {
            requests: Some(whole(plan.memory.clone())),
            limits: Some(whole(plan.memory.clone())),
            ..Default::default()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        ..Default::default()
    };
    let affinity = (!plan.allow_shared_nodes).then(|| Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "app.kubernetes.io/instance".to_owned(),
                        plan.name.clone(),
                    )])),
                    ..Default::default()
                }),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    let job = Job {
        metadata: ObjectMeta {
            name: Some(plan.name.clone()),
            namespace: plan.namespace.clone(),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".to_owned()),
            completions: Some(plan.shards as i32),
            parallelism: Some(plan.parallelism.min(plan.shards) as i32),
            // A crashed pod gets one more try; a run whose cells failed their checks has
            // written complete results and is not repeated.
            backoff_limit_per_index: Some(1),
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: "FailIndex".to_owned(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some("filterbench".to_owned()),
                        operator: "In".to_owned(),
                        values: vec![FAILED_CELLS],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            active_deadline_seconds: Some(plan.deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    containers: vec![container],
                    node_selector: (!plan.node_selector.is_empty())
                        .then(|| plan.node_selector.clone()),
                    affinity,
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Manifests { config_map, job })
}

/// Kubernetes object names here: DNS labels of at most 63 characters (the Job's pods add a
/// suffix to it).
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "--name {name:?}: use lower-case letters, digits and '-', at most 50 characters, not starting or ending with '-'"
        );
    }
    Ok(())
}

/// The ConfigMap of a spec: the spec and every file it names by a relative path inside its
/// folder, with the items that put them back at the same relative paths under [`CONFIG_DIR`].
fn spec_config_map(name: &str, spec: &Path) -> Result<(ConfigMap, Vec<KeyToPath>, String)> {
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("cannot read the spec {}", spec.display()))?;
    let value: serde_json::Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("the spec {} is not YAML", spec.display()))?;
    let folder = spec.parent().unwrap_or(Path::new("."));
    let mut named = Vec::new();
    strings(&value, &mut named);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let spec_file = spec
        .file_name()
        .map_or("spec.yaml".into(), |n| n.to_string_lossy().into_owned());
    files.insert(spec_file.clone(), text.into_bytes());
    for relative in named {
        let path = Path::new(&relative);
        let inside = path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if inside && folder.join(path).is_file() {
            let bytes = std::fs::read(folder.join(path))
                .with_context(|| format!("cannot read {}", folder.join(path).display()))?;
            files.insert(relative, bytes);
        }
    }
    let total: usize = files.values().map(Vec::len).sum();
    if total > CONFIG_MAP_LIMIT * 3 / 4 {
        bail!(
            "the spec {} and the files it names take {} KiB; a ConfigMap holds under 1 MiB (base64 included): put the module into the image instead (the Dockerfile copies the repository) and give its path in the spec",
            spec.display(),
            total / 1024
        );
    }
    let key = |path: &str| -> String {
        path.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let mut items = Vec::new();
    for (path, bytes) in files {
        let k = key(&path);
        items.push(KeyToPath {
            key: k.clone(),
            path: path.clone(),
            mode: None,
        });
        match String::from_utf8(bytes) {
            Ok(text) => {
                data.insert(k, text);
            }
            Err(e) => {
                binary.insert(k, ByteString(e.into_bytes()));
            }
        }
    }
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/instance".to_owned(),
                name.to_owned(),
            )])),
            ..Default::default()
        },
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..Default::default()
    };
    Ok((config_map, items, spec_file))
}

/// Every string in a YAML document (the candidates for file names).
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The objects as one YAML stream (`---` between them), for `kubectl apply -f`.
pub fn to_yaml(manifests: &Manifests) -> Result<String> {
    let mut out = String::new();
    if let Some(config_map) = &manifests.config_map {
        out.push_str(&serde_saphyr::to_string(config_map)?);
        out.push_str("---\n");
    }
    out.push_str(&serde_saphyr::to_string(&manifests.job)?);
    Ok(out)
}

/// Reads a YAML stream written by [`to_yaml`] back into the typed objects (the API version
/// and kind of each are checked by the types).
pub fn from_yaml(text: &str) -> Result<Manifests> {
    let documents: Vec<&str> = text
        .split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .collect();
    match documents.as_slice() {
        [job] => Ok(Manifests {
            config_map: None,
            job: serde_saphyr::from_str(job).context("not a Job")?,
        }),
        [config_map, job] => Ok(Manifests {
            config_map: Some(serde_saphyr::from_str(config_map).context("not a ConfigMap")?),
            job: serde_saphyr::from_str(job).context("not a Job")?,
        }),
        _ => bail!("expected a Job, or a ConfigMap and a Job"),
    }
}
