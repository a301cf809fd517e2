//! The report's text as data, independent of the output format: tables, sections, and the
//! whole text.

/// A table: header and rows of plain text.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

/// A titled part of the report.
#[derive(Clone, Debug)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Paragraph before the table.
    pub intro: String,
    /// The table (may be empty).
    pub table: Table,
}

/// Everything textual in a report.
#[derive(Clone, Debug)]
pub struct Content {
    /// Key findings, one sentence each.
    pub findings: Vec<String>,
    /// Sections shown before the charts.
    pub before_charts: Vec<Section>,
    /// Sections shown after the charts.
    pub after_charts: Vec<Section>,
}
