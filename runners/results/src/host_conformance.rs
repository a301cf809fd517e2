//! The host conformance matrix (`filterbench conformance`, and recorded by `filterbench run`
//! and `filterbench envoy`): one row per behaviour a probe module shows, one cell per host,
//! each cell the host's answer and how it compares with the reference (Envoy on V8). The JSON
//! form is documented in docs/conformance.md.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the matrix's JSON format.
pub const FORMAT: u32 = 1;

/// Where a host runs the probes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// filterbench's own host, on one engine (`native`: the probes' native build).
    InProcess,
    /// A real Envoy on V8 (the reference).
    Envoy,
    /// A real Envoy running the probes' native build as a dynamic module through the bridge.
    EnvoyNative,
}

/// One host of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Host {
    /// Column name: an engine configuration (`wasmtime-cranelift`), `native`, `envoy` or
    /// `envoy-native`.
    pub name: String,
    /// Where it runs.
    pub kind: HostKind,
    /// Its version (`envoy 1.40.0`, `wasmtime 48.0.0`).
    pub version: String,
}

/// How a cell compares with the reference.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The same answer as the reference.
    Same,
    /// Another answer: an unexplained difference.
    Differs,
    /// The host could not run the probe (the reason is the cell's `detail`).
    NotRun,
    /// The probe has no form this host runs (the reason is the cell's `detail`).
    NotApplicable,
    /// A known, documented difference (the reason is the cell's `detail`).
    Known,
}

/// One host's answer to one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cell {
    /// The host's name.
    pub host: String,
    /// Its answer, in the row's words (`None`: not run).
    pub answer: Option<String>,
    /// Compared with the reference.
    pub verdict: Verdict,
    /// A trap or start error the host reported, a known difference's reason, or why the probe
    /// did not run.
    pub detail: Option<String>,
}

/// One behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Row {
    /// The probe that shows it.
    pub probe: String,
    /// The behaviour, as a question.
    pub behaviour: String,
    /// The reference answer: the live Envoy's, else the recording's.
    pub reference: String,
    /// What Envoy 1.40 on V8 answered when the probe was written.
    pub recorded_envoy_1_40: String,
    /// One cell per host, in the order of [`Matrix::hosts`].
    pub cells: Vec<Cell>,
}

/// The whole matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Matrix {
    /// [`FORMAT`].
    pub format: u32,
    /// Where the reference answers come from: `envoy` (run live) or `recorded (Envoy 1.40)`.
    pub reference: String,
    /// The hosts, in column order.
    pub hosts: Vec<Host>,
    /// The behaviours, in probe order.
    pub rows: Vec<Row>,
}

impl Matrix {
    /// Cells that differ from the reference without a documented reason, or did not run.
    pub fn unexplained(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .filter(|c| matches!(c.verdict, Verdict::Differs | Verdict::NotRun))
            .count()
    }
}
