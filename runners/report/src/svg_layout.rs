//! Collisions in a chart as the report writes it: two texts whose boxes overlap, or a data mark
//! under the legend. Text boxes are sized from the embedded DejaVu Sans's advance widths at the
//! SVG's font size, placed by its anchor, baseline shift and rotation. Used by the report's
//! tests on every chart it writes.

use ab_glyph::{Font, FontRef};

/// An axis-aligned box, pixels: left, top, right, bottom.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Box2 {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Box2 {
    /// Whether the two overlap by more than `slack` pixels each way.
    fn overlaps(&self, other: &Box2, slack: f64) -> bool {
        self.left + slack < other.right
            && other.left + slack < self.right
            && self.top + slack < other.bottom
            && other.top + slack < self.bottom
    }

    /// The box turned by `degrees` (a multiple of 90) about (`cx`, `cy`).
    fn rotated(&self, degrees: f64, cx: f64, cy: f64) -> Box2 {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let turn = |x: f64, y: f64| {
            let (dx, dy) = (x - cx, y - cy);
            (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
        };
        let corners = [
            turn(self.left, self.top),
            turn(self.right, self.top),
            turn(self.left, self.bottom),
            turn(self.right, self.bottom),
        ];
        let xs = corners.iter().map(|c| c.0);
        let ys = corners.iter().map(|c| c.1);
        Box2 {
            left: xs.clone().fold(f64::INFINITY, f64::min),
            right: xs.fold(f64::NEG_INFINITY, f64::max),
            top: ys.clone().fold(f64::INFINITY, f64::min),
            bottom: ys.fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The value of attribute `name` in the tag text `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

fn number(tag: &str, name: &str) -> Option<f64> {
    attribute(tag, name)?.parse().ok()
}

/// Width of `text` at `size` pixels in DejaVu Sans.
fn width_in(font: &FontRef<'_>, text: &str, size: f64) -> f64 {
    let units = f64::from(font.units_per_em().unwrap_or(2048.0));
    let advance: f64 = text
        .chars()
        .map(|c| f64::from(font.h_advance_unscaled(font.glyph_id(c))))
        .sum();
    advance / units * size
}

/// Width of `text` at `size` pixels in the embedded DejaVu Sans, the font charts are drawn in.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    width_in(&embedded(), text, size)
}

fn embedded() -> FontRef<'static> {
    FontRef::try_from_slice(dejavu::sans::regular()).expect("the embedded font parses")
}

/// Undoes the XML escapes plotters writes.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A text of the chart and its box.
struct Label {
    text: String,
    bounds: Box2,
}

fn labels(svg: &str, font: &FontRef<'_>) -> Vec<Label> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        let Some(tag_end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + tag_end];
        let Some(close) = rest[start..].find("</text>") else {
            break;
        };
        let text = unescape(rest[start + tag_end + 1..start + close].trim());
        rest = &rest[start + close..];
        let (Some(x), Some(y), Some(size)) =
            (number(tag, "x"), number(tag, "y"), number(tag, "font-size"))
        else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let width = width_in(font, &text, size);
        let left = match attribute(tag, "text-anchor") {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        // The baseline shifts plotters uses: `0.76em` (top at y), `0.5ex` (middle at y), none
        // (baseline at y).
        let top = match attribute(tag, "dy") {
            Some("0.76em") => y,
            Some("0.5ex") => y - size * 0.5,
            Some("1em") => y + size * 0.24,
            _ => y - size * 0.76,
        };
        let mut bounds = Box2 {
            left,
            top,
            right: left + width,
            bottom: top + size,
        };
        if let Some(transform) = attribute(tag, "transform")
            && let Some(args) = transform
                .strip_prefix("rotate(")
                .and_then(|t| t.strip_suffix(')'))
        {
            let parts: Vec<f64> = args
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect();
            if let [degrees, cx, cy] = parts[..] {
                bounds = bounds.rotated(degrees, cx, cy);
            }
        }
        out.push(Label { text, bounds });
    }
    out
}

/// The boxes of the shapes drawn before the legend's frame (data, axes, mesh) and the frame
/// itself (the legend's border: a rectangle stroked black at 30%, drawn after the data).
fn marks_and_legend(svg: &str) -> (Vec<Box2>, Option<Box2>) {
    let mut marks = Vec::new();
    let mut legend = None;
    for line in svg.lines() {
        let line = line.trim();
        let bounds = if line.starts_with("<circle") {
            let (Some(cx), Some(cy), Some(r)) =
                (number(line, "cx"), number(line, "cy"), number(line, "r"))
            else {
                continue;
            };
            Box2 {
                left: cx - r,
                top: cy - r,
                right: cx + r,
                bottom: cy + r,
            }
        } else if line.starts_with("<rect") {
            let (Some(x), Some(y), Some(w), Some(h)) = (
                number(line, "x"),
                number(line, "y"),
                number(line, "width"),
                number(line, "height"),
            ) else {
                continue;
            };
            let frame = attribute(line, "fill") == Some("none")
                && attribute(line, "stroke") == Some("#000000")
                && attribute(line, "opacity") == Some("0.3");
            let bounds = Box2 {
                left: x,
                top: y,
                right: x + w,
                bottom: y + h,
            };
            if frame {
                legend = Some(bounds);
                // What follows is the legend's own keys.
                break;
            }
            // The white background of the whole chart is not a mark.
            if attribute(line, "fill") == Some("#FFFFFF") {
                continue;
            }
            bounds
        } else if line.starts_with("<polyline") || line.starts_with("<path") {
            let Some(points) = attribute(line, "points") else {
                continue;
            };
            let xy: Vec<f64> = points
                .split([' ', ','])
                .filter_map(|p| p.parse().ok())
                .collect();
            let (xs, ys): (Vec<f64>, Vec<f64>) = xy.chunks(2).map(|p| (p[0], p[1])).unzip();
            if xs.is_empty() {
                continue;
            }
            Box2 {
                left: xs.iter().copied().fold(f64::INFINITY, f64::min),
                right: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                top: ys.iter().copied().fold(f64::INFINITY, f64::min),
                bottom: ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            }
        } else {
            continue;
        };
        marks.push(bounds);
    }
    (marks, legend)
}

/// Every collision in `svg`, described: texts whose boxes overlap (by more than a pixel each
/// way), and shapes under the legend's frame. Empty when the chart reads cleanly.
pub fn collisions(svg: &str) -> Vec<String> {
    let labels = labels(svg, &embedded());
    let mut found = Vec::new();
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            // The same text twice in the same place (a log axis's tick drawn twice) reads as one.
            let twice = a.text == b.text && a.bounds == b.bounds;
            if !twice && a.bounds.overlaps(&b.bounds, 1.0) {
                found.push(format!(
                    "text {:?} overlaps text {:?} ({:?} / {:?})",
                    a.text, b.text, a.bounds, b.bounds
                ));
            }
        }
    }
    let (marks, legend) = marks_and_legend(svg);
    if let Some(legend) = legend {
        let covered = marks.iter().filter(|m| m.overlaps(&legend, 0.0)).count();
        if covered > 0 {
            found.push(format!("the legend {legend:?} covers {covered} mark(s)"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(x: f64, y: f64, anchor: &str, extra: &str, content: &str) -> String {
        format!(
            "<text x=\"{x}\" y=\"{y}\" dy=\"0.76em\" text-anchor=\"{anchor}\" font-family=\"sans-serif\" font-size=\"10\" fill=\"#000000\"{extra}>\n{content}\n</text>\n"
        )
    }

    #[test]
    fn neighbouring_labels_that_touch_collide_and_spaced_ones_do_not() {
        // "wasmtime-cranelift" at 10 px is about 90 px wide.
        let close = text(100.0, 500.0, "middle", "", "wasmtime-cranelift")
            + &text(150.0, 500.0, "middle", "", "wasmtime-winch");
        assert_eq!(collisions(&close).len(), 1, "{:?}", collisions(&close));
        let apart = text(100.0, 500.0, "middle", "", "wasmtime-cranelift")
            + &text(220.0, 500.0, "middle", "", "wasmtime-winch");
        assert!(collisions(&apart).is_empty(), "{:?}", collisions(&apart));
        // Turned a quarter, the same neighbours stand side by side.
        let turned = text(
            100.0,
            500.0,
            "start",
            " transform=\"rotate(90, 100, 500)\"",
            "wasmtime-cranelift",
        ) + &text(
            150.0,
            500.0,
            "start",
            " transform=\"rotate(90, 150, 500)\"",
            "wasmtime-winch",
        );
        assert!(collisions(&turned).is_empty(), "{:?}", collisions(&turned));
    }

    #[test]
    fn a_mark_under_the_legend_collides() {
        let chart = |cx: u32| {
            format!(
                "<rect x=\"0\" y=\"0\" width=\"1100\" height=\"620\" opacity=\"1\" fill=\"#FFFFFF\" stroke=\"none\"/>\n<circle cx=\"{cx}\" cy=\"60\" r=\"4\" opacity=\"1\" fill=\"#1F77B4\" stroke=\"none\"/>\n<rect x=\"850\" y=\"44\" width=\"240\" height=\"200\" opacity=\"0.3\" fill=\"none\" stroke=\"#000000\"/>\n<circle cx=\"870\" cy=\"60\" r=\"5\" opacity=\"1\" fill=\"#1F77B4\" stroke=\"none\"/>\n"
            )
        };
        assert_eq!(collisions(&chart(900)).len(), 1);
        assert!(collisions(&chart(700)).is_empty());
    }
}
