//! The titles of the sections findings and figures link to, and the anchors of table rows: one
//! place, so a link and its target cannot drift apart.

use crate::document::anchor;

/// The paired Envoy CPU section's title.
pub const ENVOY_CPU_TITLE: &str = "Envoy: CPU per request at a fixed rate, paired";

/// The Envoy instructions section's title.
pub const ENVOY_INSTRUCTIONS_TITLE: &str = "Envoy: instructions per request";

/// The link to a section with `title`.
pub fn section_href(title: &str) -> String {
    format!("#{}", anchor(&[title]))
}

/// The anchor of the first cells-table row of `filter` on `engine`.
pub fn cell(filter: &str, engine: &str) -> String {
    anchor(&["cell", filter, engine])
}

/// The anchor of an engine's row in the engines table.
pub fn engine(engine: &str) -> String {
    anchor(&["engine", engine])
}

/// The anchor of a (filter, variant) row of the Envoy CPU table.
pub fn envoy_cpu(filter: &str, variant: &str) -> String {
    anchor(&["envoy-cpu", filter, variant])
}

/// The anchor of a (filter, variant) row of the Envoy instructions table.
pub fn envoy_instructions(filter: &str, variant: &str) -> String {
    anchor(&["envoy-instructions", filter, variant])
}
