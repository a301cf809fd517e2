//! What every chart draws text with: the embedded font's family and sizes, and plotters'
//! errors as text.

use plotters::prelude::*;

/// Family name under which the embedded font is registered.
pub(crate) const FONT: &str = "sans-serif";

/// Text in the embedded font at `size` (plotters' points).
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().into()
}

/// A plotters error as text.
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}
