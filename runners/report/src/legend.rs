//! Chart legends in a column of their own right of the plot, so a legend never covers data
//! (plotters draws its series labels inside the plot area, and clips shapes outside it).

use crate::style::{err, font};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of the legend column, pixels: the longest engine name,
/// `wasmtime-cranelift+bounds-checks`, takes about 220 at the legend's font size.
pub(crate) const WIDTH: u32 = 250;
/// Height of one legend row, pixels.
const ROW: i32 = 18;
/// Where the first row starts, pixels from the top (below the chart's caption).
const TOP: i32 = 52;

/// How a series is drawn, as its key shows it.
#[derive(Clone, Copy)]
enum Swatch {
    Dot,
    Bar,
    Line,
}

/// The keys of one chart's legend, in the order the series were drawn.
#[derive(Default)]
pub(crate) struct Keys(Vec<(String, RGBColor, Swatch)>);

impl Keys {
    /// A series of points.
    pub(crate) fn dot(&mut self, label: &str, colour: RGBColor) {
        self.0.push((label.to_owned(), colour, Swatch::Dot));
    }

    /// A series of bars.
    pub(crate) fn bar(&mut self, label: &str, colour: RGBColor) {
        self.0.push((label.to_owned(), colour, Swatch::Bar));
    }

    /// A line.
    pub(crate) fn line(&mut self, label: &str, colour: RGBColor) {
        self.0.push((label.to_owned(), colour, Swatch::Line));
    }

    /// Draws the keys into `column` (the right part of [`split`]), boxed.
    pub(crate) fn draw<DB: DrawingBackend>(
        &self,
        column: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
        if self.0.is_empty() {
            return Ok(());
        }
        let (width, _) = column.dim_in_pixel();
        let bottom = TOP + ROW * self.0.len() as i32;
        column
            .draw(&Rectangle::new(
                [(4, TOP - 8), (width as i32 - 6, bottom + 2)],
                BLACK.mix(0.3),
            ))
            .map_err(err)?;
        for (i, (label, colour, swatch)) in self.0.iter().enumerate() {
            let y = TOP + ROW * i as i32 + ROW / 2 - 4;
            match swatch {
                Swatch::Dot => column.draw(&Circle::new((20, y), 5, colour.filled())),
                Swatch::Bar => {
                    column.draw(&Rectangle::new([(13, y - 5), (27, y + 5)], colour.filled()))
                }
                Swatch::Line => column.draw(&PathElement::new(
                    vec![(12, y), (28, y)],
                    colour.stroke_width(3),
                )),
            }
            .map_err(err)?;
            column
                .draw(&Text::new(
                    label.clone(),
                    (36, y),
                    font(13).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// `area` split into the plot (left) and the legend column (right, [`WIDTH`] wide).
pub(crate) fn split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (width, _) = area.dim_in_pixel();
    area.split_horizontally(width.saturating_sub(WIDTH))
}
