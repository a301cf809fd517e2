//! Results through a pod's log: `--results-to-stdout` prints the results file between two
//! marker lines (gzip-compressed, base64 in 76-character lines, with the JSON's SHA-256), and
//! `filterbench k8s collect` finds those blocks in `kubectl logs` output — one pod or many,
//! with or without `--prefix`, interleaved or not — and writes the files back.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use filterbench_harness::results::{self, Results};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Opens a block; followed by `NAME sha256=HEX bytes=N ===`.
const BEGIN: &str = "=== filterbench results begin: ";
/// Closes a block; followed by `NAME ===`.
const END: &str = "=== filterbench results end: ";
/// Base64 characters per line (as MIME): short enough for any log pipeline.
const LINE: usize = 76;

/// The file name a results file goes by in a log: `run-PLAN-shard-K-of-N` for a shard, else
/// `COMMAND-results`.
pub fn block_name(results: &Results, command: &str) -> String {
    match results.shards.first() {
        Some(shard) => format!(
            "{}-{}-shard-{}-of-{}",
            shard.command, shard.plan, shard.index, shard.of
        ),
        None => format!("{command}-results"),
    }
}

/// Prints `results` to stdout as a block named [`block_name`].
pub fn print(results: &Results, command: &str) -> Result<()> {
    let json = serde_json::to_vec(results)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&json)?;
    let encoded = BASE64.encode(gzip.finish()?);
    let name = block_name(results, command);
    let digest = hex(&Sha256::digest(&json));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{BEGIN}{name} sha256={digest} bytes={} ===",
        json.len()
    )?;
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.write_all(chunk)?;
        out.write_all(b"\n")?;
    }
    writeln!(out, "{END}{name} ===")?;
    out.flush()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A block found in a log.
#[derive(Debug)]
pub struct Found {
    /// Its name (the file name without `.json`).
    pub name: String,
    /// The results JSON.
    pub json: Vec<u8>,
}

/// A block being read: its name, expected digest and size, and the base64 so far.
struct Open {
    name: String,
    sha256: String,
    bytes: usize,
    base64: String,
}

/// The blocks in `log` (`source` names it in errors). A line's text before a marker (kubectl's
/// `[pod/NAME/CONTAINER] ` prefix, a timestamp) names its stream: payload lines are taken from
/// the stream of their block's opening marker only, so interleaved pods stay apart.
pub fn find(log: &str, source: &str) -> Result<Vec<Found>> {
    let mut open: BTreeMap<String, Open> = BTreeMap::new();
    let mut found = Vec::new();
    for (number, line) in log.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if let Some(at) = line.find(BEGIN) {
            let stream = line[..at].to_owned();
            let header = line[at + BEGIN.len()..].trim_end_matches(" ===");
            let mut fields = header.split(' ');
            let name = fields.next().unwrap_or_default().to_owned();
            let field = |key: &str| {
                header
                    .split(' ')
                    .find_map(|f| f.strip_prefix(key))
                    .map(str::to_owned)
            };
            let (Some(sha256), Some(bytes)) = (field("sha256="), field("bytes=")) else {
                bail!(
                    "{source}, line {}: a results block without its digest and size: {line}",
                    number + 1
                );
            };
            open.insert(
                stream,
                Open {
                    name,
                    sha256,
                    bytes: bytes.parse().unwrap_or(0),
                    base64: String::new(),
                },
            );
        } else if let Some(at) = line.find(END) {
            let Some(block) = open.remove(&line[..at]) else {
                continue;
            };
            found.push(decode(block, source)?);
        } else {
            for (stream, block) in open.iter_mut() {
                if let Some(payload) = line.strip_prefix(stream.as_str())
                    && !payload.is_empty()
                    && payload
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                {
                    block.base64.push_str(payload);
                    break;
                }
            }
        }
    }
    if let Some(block) = open.into_values().next() {
        bail!(
            "{source}: the results block {} is cut off (no end marker): the pod may still be running, or its log was rotated before it was read (kubelet keeps 10 MiB per container by default); write the results to a volume instead (`filterbench k8s emit --volume-claim`)",
            block.name
        );
    }
    Ok(found)
}

fn decode(block: Open, source: &str) -> Result<Found> {
    let name = block.name;
    let compressed = BASE64
        .decode(block.base64.as_bytes())
        .with_context(|| format!("{source}: the results block {name} is not valid base64"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .with_context(|| format!("{source}: the results block {name} does not decompress"))?;
    if json.len() != block.bytes || hex(&Sha256::digest(&json)) != block.sha256 {
        bail!(
            "{source}: the results block {name} is damaged (its size or SHA-256 differs from its header): collect the log again"
        );
    }
    Ok(Found { name, json })
}

/// Reads every log (`-` or none: stdin), writes each block's results to `out/NAME.json`
/// (checked to be filterbench results), and returns the files written. A name seen twice (a
/// pod that ran again) keeps its last block, with a warning.
pub fn collect(logs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>> {
    let mut blocks: Vec<(String, Found)> = Vec::new();
    let sources: Vec<Option<&PathBuf>> = if logs.is_empty() {
        vec![None]
    } else {
        logs.iter()
            .map(|p| (p.as_os_str() != "-").then_some(p))
            .collect()
    };
    for source in sources {
        let (label, text) = match source {
            Some(path) => (
                path.display().to_string(),
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => {
                let mut text = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut text)
                    .context("cannot read the log from stdin")?;
                ("stdin".to_owned(), text)
            }
        };
        for block in find(&String::from_utf8_lossy(&text), &label)? {
            if let Some(at) = blocks.iter().position(|(_, b)| b.name == block.name) {
                eprintln!(
                    "warning: {} appears twice ({} and {label}); the later one is kept",
                    block.name, blocks[at].0
                );
                blocks.remove(at);
            }
            blocks.push((label.clone(), block));
        }
    }
    if blocks.is_empty() {
        bail!(
            "no filterbench results in the log(s) given: pass the output of `kubectl logs` of the Job's pods (e.g. `kubectl logs -l job-name=NAME --prefix --tail=-1 --max-log-requests=50`), after they finished"
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for (label, block) in blocks {
        let results: Results = serde_json::from_slice(&block.json).with_context(|| {
            format!(
                "{label}: the block {} is not a filterbench results file of this version",
                block.name
            )
        })?;
        let path = out.join(format!("{}.json", block.name));
        results::write_atomic(&path, &results)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
