//! A heat-map grid drawn as SVG text of our own (plotters cannot write `<title>` or links):
//! rows × columns of coloured cells, each with a value, an optional second line, a tooltip
//! holding its interval, and a link to the table row behind it.

use crate::html::esc;
use crate::svg_layout;
use std::fmt::Write as _;

/// One cell of a grid.
#[derive(Clone, Debug)]
pub struct GridCell {
    /// What sets the colour: a ratio (1 = no cost), on the grid's log scale.
    pub ratio: f64,
    /// The main text (`2.4x`).
    pub main: String,
    /// A smaller second line (`total 1.9x`), if any.
    pub second: Option<String>,
    /// The tooltip: the values with their intervals, in words.
    pub title: String,
    /// Where a click leads (`#row-id`), if anywhere.
    pub href: Option<String>,
}

/// A heat-map grid.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    /// Names of the rows, top to bottom.
    pub rows: Vec<String>,
    /// Names of the columns, left to right.
    pub columns: Vec<String>,
    /// `cells[row][column]`; `None` where nothing was measured.
    pub cells: Vec<Vec<Option<GridCell>>>,
    /// The ratio drawn darkest (the scale runs from 1 to it, logarithmically).
    pub scale_max: f64,
    /// The colour scale's caption (`cost over native, above the host floor`).
    pub scale_label: String,
    /// Whether the last column is a summary of the others (drawn a little apart).
    pub last_is_total: bool,
}

const CELL_H: f64 = 31.0;
const MAIN_SIZE: f64 = 12.0;
const SECOND_SIZE: f64 = 9.0;
const NAME_SIZE: f64 = 12.0;
const PAD: f64 = 8.0;
const SCALE_H: f64 = 52.0;
/// Space before a summary column, pixels.
const GAP: f64 = 6.0;

/// Where a grid's parts go, pixels.
struct Layout {
    row_w: f64,
    cell_w: f64,
    turned: bool,
    head_h: f64,
    gap: f64,
    width: f64,
}

/// The colour of `ratio` on a log scale from 1 (pale) to `max` (dark): a sequential orange-red
/// ramp, as RGB.
pub fn colour(ratio: f64, max: f64) -> (u8, u8, u8) {
    let t = if max > 1.0 && ratio > 1.0 {
        (ratio.ln() / max.ln()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Three stops: pale cream, orange, dark red.
    let stops = [
        (255.0, 247.0, 236.0),
        (244.0, 140.0, 64.0),
        (127.0, 20.0, 8.0),
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether text on `rgb` should be white (dark background) rather than black.
fn light_text(rgb: (u8, u8, u8)) -> bool {
    let (r, g, b) = (f64::from(rgb.0), f64::from(rgb.1), f64::from(rgb.2));
    0.299 * r + 0.587 * g + 0.114 * b < 140.0
}

fn text(out: &mut String, x: f64, y: f64, size: f64, anchor: &str, fill: &str, body: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" fill=\"{fill}\" font-family=\"DejaVu Sans,sans-serif\">{}</text>",
        esc(body)
    );
}

impl Grid {
    /// The width of [`Grid::svg`], pixels.
    pub fn width(&self) -> u32 {
        self.layout().width as u32
    }

    /// The grid as a standalone SVG document; its width follows the longest names.
    pub fn svg(&self) -> String {
        let Layout {
            row_w,
            cell_w,
            turned,
            head_h,
            gap,
            width,
        } = self.layout();
        let left_of = |j: usize| {
            row_w
                + cell_w * j as f64
                + if j + 1 == self.columns.len() {
                    gap
                } else {
                    0.0
                }
        };
        let grid_w = cell_w * self.columns.len() as f64 + gap;
        let grid_h = CELL_H * self.rows.len() as f64;
        let height = (head_h + grid_h + SCALE_H + PAD).ceil();
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">"
        );
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
        );
        for (j, column) in self.columns.iter().enumerate() {
            let cx = left_of(j) + cell_w / 2.0;
            if turned {
                let (x, y) = (cx + NAME_SIZE * 0.36, head_h - PAD);
                let _ = write!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{NAME_SIZE}\" text-anchor=\"start\" transform=\"rotate(-90, {x:.1}, {y:.1})\" fill=\"#222222\" font-family=\"DejaVu Sans,sans-serif\">{}</text>",
                    esc(column)
                );
            } else {
                text(
                    &mut out,
                    cx,
                    head_h - PAD,
                    NAME_SIZE,
                    "middle",
                    "#222222",
                    column,
                );
            }
        }
        for (i, row) in self.rows.iter().enumerate() {
            let top = head_h + CELL_H * i as f64;
            text(
                &mut out,
                row_w - PAD,
                top + CELL_H / 2.0 + NAME_SIZE * 0.36,
                NAME_SIZE,
                "end",
                "#222222",
                row,
            );
            for (j, cell) in self.cells[i].iter().enumerate() {
                let left = left_of(j);
                let Some(cell) = cell else {
                    let _ = write!(
                        out,
                        "<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{cell_w:.1}\" height=\"{CELL_H}\" fill=\"#f2f2f2\" stroke=\"#ffffff\"><title>{}: not measured</title></rect>",
                        esc(&format!("{row} × {}", self.columns[j]))
                    );
                    continue;
                };
                let rgb = colour(cell.ratio, self.scale_max);
                let fill = format!("#{:02x}{:02x}{:02x}", rgb.0, rgb.1, rgb.2);
                let ink = if light_text(rgb) {
                    "#ffffff"
                } else {
                    "#111111"
                };
                if let Some(href) = &cell.href {
                    let _ = write!(out, "<a href=\"{}\">", esc(href));
                }
                let _ = write!(
                    out,
                    "<g><title>{}</title><rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{cell_w:.1}\" height=\"{CELL_H}\" fill=\"{fill}\" stroke=\"#ffffff\"/>",
                    esc(&cell.title)
                );
                let cx = left + cell_w / 2.0;
                match &cell.second {
                    Some(second) => {
                        text(
                            &mut out,
                            cx,
                            top + 17.0,
                            MAIN_SIZE,
                            "middle",
                            ink,
                            &cell.main,
                        );
                        text(&mut out, cx, top + 31.0, SECOND_SIZE, "middle", ink, second);
                    }
                    None => text(
                        &mut out,
                        cx,
                        top + CELL_H / 2.0 + MAIN_SIZE * 0.36,
                        MAIN_SIZE,
                        "middle",
                        ink,
                        &cell.main,
                    ),
                }
                out.push_str("</g>");
                if cell.href.is_some() {
                    out.push_str("</a>");
                }
            }
        }
        self.scale(&mut out, row_w, head_h + grid_h + 10.0, grid_w.max(240.0));
        out.push_str("</svg>");
        out
    }

    fn layout(&self) -> Layout {
        let width_of = |s: &str, size: f64| svg_layout::text_width(s, size);
        let row_w = self
            .rows
            .iter()
            .map(|r| width_of(r, NAME_SIZE))
            .fold(60.0, f64::max)
            + 2.0 * PAD;
        let widest_cell = self
            .cells
            .iter()
            .flatten()
            .flatten()
            .flat_map(|c| {
                [
                    width_of(&c.main, MAIN_SIZE),
                    c.second
                        .as_deref()
                        .map_or(0.0, |s| width_of(s, SECOND_SIZE)),
                ]
            })
            .fold(40.0, f64::max);
        let widest_column = self
            .columns
            .iter()
            .map(|c| width_of(c, NAME_SIZE))
            .fold(0.0, f64::max);
        let cell_w = (widest_cell + 10.0).max(54.0);
        // Column names turn a quarter (read bottom to top) when they do not fit side by side.
        let turned = widest_column + 6.0 > cell_w;
        let head_h = if turned {
            widest_column + 2.0 * PAD
        } else {
            NAME_SIZE + 2.0 * PAD
        };
        let gap = if self.last_is_total { GAP } else { 0.0 };
        let grid_w = cell_w * self.columns.len() as f64 + gap;
        let label = svg_layout::text_width(&self.scale_label, SECOND_SIZE);
        let width = (row_w + grid_w.max(label) + PAD).ceil().max(320.0);
        Layout {
            row_w,
            cell_w,
            turned,
            head_h,
            gap,
            width,
        }
    }

    /// The colour scale under the grid: a ramp with ticks at 1, 2, 5, 10, … up to the maximum.
    fn scale(&self, out: &mut String, left: f64, top: f64, width: f64) {
        let width = width.min(360.0);
        let steps = 48;
        for k in 0..steps {
            let r = self.scale_max.powf(k as f64 / (steps - 1) as f64);
            let (red, green, blue) = colour(r, self.scale_max);
            let x = left + width * k as f64 / steps as f64;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{:.2}\" height=\"10\" fill=\"#{red:02x}{green:02x}{blue:02x}\"/>",
                width / steps as f64 + 0.3
            );
        }
        let mut ticks = vec![1.0];
        let mut t: f64 = 1.0;
        'outer: loop {
            for m in [2.0, 5.0, 10.0] {
                let v = t * m;
                if v > self.scale_max * 1.0001 {
                    break 'outer;
                }
                ticks.push(v);
            }
            t *= 10.0;
        }
        let mut last_right = f64::NEG_INFINITY;
        for v in ticks {
            let x = if self.scale_max > 1.0 {
                left + width * v.ln() / self.scale_max.ln()
            } else {
                left
            };
            let label = format!("{}x", crate::grid::short(v));
            let w = svg_layout::text_width(&label, SECOND_SIZE);
            if x - w / 2.0 < last_right + 4.0 {
                continue;
            }
            last_right = x + w / 2.0;
            text(out, x, top + 22.0, SECOND_SIZE, "middle", "#444444", &label);
        }
        text(
            out,
            left,
            top + 36.0,
            SECOND_SIZE,
            "start",
            "#444444",
            &self.scale_label,
        );
    }
}

/// A ratio in at most three significant digits without trailing zeros: `1`, `2.5`, `10`.
pub fn short(v: f64) -> String {
    let s = if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    };
    s.trim_end_matches(".0").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(ratio: f64) -> Option<GridCell> {
        Some(GridCell {
            ratio,
            main: format!("{ratio:.1}x"),
            second: Some(format!("total {ratio:.1}x")),
            title: "a tooltip".to_owned(),
            href: Some("#row".to_owned()),
        })
    }

    #[test]
    fn colours_run_from_pale_to_dark_and_saturate() {
        let pale = colour(1.0, 100.0);
        let mid = colour(10.0, 100.0);
        let dark = colour(100.0, 100.0);
        let sum = |c: (u8, u8, u8)| u32::from(c.0) + u32::from(c.1) + u32::from(c.2);
        assert!(sum(pale) > sum(mid) && sum(mid) > sum(dark));
        assert_eq!(colour(1000.0, 100.0), dark);
        assert_eq!(colour(0.5, 100.0), pale);
    }

    #[test]
    fn a_grid_has_a_tooltip_and_link_per_cell_and_no_overlapping_text() {
        let grid = Grid {
            rows: vec!["wasmtime-cranelift".into(), "wasmi-eager".into()],
            columns: vec!["noop".into(), "http-callout".into(), "body-redact".into()],
            cells: vec![
                vec![cell(1.5), cell(2.0), None],
                vec![cell(12.0), cell(30.0), cell(55.0)],
            ],
            scale_max: 100.0,
            scale_label: "cost over native".into(),
            last_is_total: true,
        };
        let svg = grid.svg();
        assert_eq!(svg.matches("<title>a tooltip</title>").count(), 5);
        assert_eq!(svg.matches("<a href=\"#row\">").count(), 5);
        assert!(svg.contains("not measured"));
        assert_eq!(svg_layout::collisions(&svg), Vec::<String>::new());
    }
}
