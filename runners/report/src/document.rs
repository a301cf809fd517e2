//! The report's text as data, independent of the output format: tables, sections, findings and
//! the whole text.

/// A table: header and rows of plain text.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, as many cells as the header.
    pub rows: Vec<Vec<String>>,
    /// An anchor per row (empty for none), so findings and figures can link to the rows behind
    /// them; empty when no row has one.
    pub ids: Vec<String>,
    /// The column whose comma-separated entries are flags (`noisy`, `IMPLAUSIBLE: …`), shown
    /// as badges in HTML.
    pub flags: Option<usize>,
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

impl Section {
    /// The section's anchor: its title in lower case, words joined by dashes.
    pub fn id(&self) -> String {
        anchor(&[&self.title])
    }
}

/// A finding: one sentence a reader could quote, and where its numbers are.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The sentence.
    pub text: String,
    /// The anchor of the table rows behind it (`#engines`), if any.
    pub href: Option<String>,
}

impl Finding {
    /// A finding whose numbers are in the rows at `href`.
    pub fn at(text: String, href: &str) -> Self {
        Self {
            text,
            href: Some(href.to_owned()),
        }
    }
}

impl From<String> for Finding {
    fn from(text: String) -> Self {
        Self { text, href: None }
    }
}

/// An HTML anchor made of `parts`: lower-case letters, digits and single dashes.
pub fn anchor(parts: &[&str]) -> String {
    let mut out = String::new();
    for c in parts.join("-").chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Everything textual in a report.
#[derive(Clone, Debug, Default)]
pub struct Content {
    /// The first screen's findings: at most five, most telling first.
    pub findings: Vec<Finding>,
    /// Further findings, shown after the tables of the first screen.
    pub more_findings: Vec<Finding>,
    /// Sections shown before the charts.
    pub before_charts: Vec<Section>,
    /// Sections shown after the charts.
    pub after_charts: Vec<Section>,
    /// How the numbers were made and how to make them again (paragraphs, then commands).
    pub method: Option<Method>,
}

/// The generated methodology: paragraphs from the run's own settings, and the commands that
/// reproduce it.
#[derive(Clone, Debug, Default)]
pub struct Method {
    /// Paragraphs, each one aspect (rounds, estimator, floor, precision, environment).
    pub paragraphs: Vec<String>,
    /// Shell lines that reproduce the run (checkout, then the commands).
    pub reproduce: Vec<String>,
}
