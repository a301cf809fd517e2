//! What a table cell's text holds, for the HTML tables: the value apart from its interval, a
//! number to sort by, and the flags of a verdict cell.

/// Splits `1.40x [1.37–1.43]` into (`1.40x`, `1.37–1.43`), `1.23 µs ±2.1%` into (`1.23 µs`,
/// `±2.1%`); text without an interval comes back whole.
pub fn split_interval(text: &str) -> (String, Option<String>) {
    if let Some(open) = text.find(" [")
        && let Some(close) = text[open..].find(']')
    {
        let inside = &text[open + 2..open + close];
        let looks_numeric = inside
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+');
        if looks_numeric {
            let main = format!("{}{}", &text[..open], &text[open + close + 1..]);
            return (main, Some(inside.to_owned()));
        }
    }
    if let Some(at) = text.find(" ±") {
        let rest = &text[at + 1..];
        let end = rest.find(' ').unwrap_or(rest.len());
        if rest[..end].ends_with('%') {
            let main = format!("{}{}", &text[..at], &rest[end..]);
            return (main, Some(rest[..end].to_owned()));
        }
    }
    (text.to_owned(), None)
}

/// A number to sort `text` by, in its unit's base (ns for times, bytes for sizes): `1.2 µs` →
/// 1200, `1.40x` → 1.4, `9,482 (1.25x)` → 9482, `+5.0 µs` → 5000. `None` for text.
pub fn sort_value(text: &str) -> Option<f64> {
    let text = text.trim();
    let text = text.split(" (").next().unwrap_or(text);
    let digits_end = text
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_digit() || *c == '.' || *c == ',' || (*i == 0 && "+-−".contains(*c)))
        })
        .map_or(text.len(), |(i, _)| i);
    let number: String = text[..digits_end]
        .chars()
        .filter(|c| *c != ',')
        .map(|c| if c == '−' { '-' } else { c })
        .collect();
    let value: f64 = number.parse().ok()?;
    let scale = match text[digits_end..].trim() {
        "" | "x" | "%" | "req/s" | "rps" | "B" => 1.0,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(value * scale)
}

/// A flag of a verdict cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Flag {
    /// The interval is wider than the run's noise threshold.
    Noisy,
    /// Faster than native code of the same source: a measurement effect (why).
    Implausible(String),
    /// The A/A cell of this filter and workload was off by more than 2%.
    Unreliable,
    /// Too few fast-state rounds: all rounds were used.
    MixedState,
    /// The open-loop run missed its rate: latency left out.
    Overloaded(String),
    /// Anything else, shown as it is.
    Other(String),
}

impl Flag {
    /// The CSS class of its badge.
    pub fn class(&self) -> &'static str {
        match self {
            Flag::Noisy => "noisy",
            Flag::Implausible(_) => "implausible",
            Flag::Unreliable => "unreliable",
            Flag::MixedState => "mixed",
            Flag::Overloaded(_) => "overloaded",
            Flag::Other(_) => "other",
        }
    }

    /// The badge's text.
    pub fn label(&self) -> &str {
        match self {
            Flag::Noisy => "noisy",
            Flag::Implausible(_) => "implausible",
            Flag::Unreliable => "A/A unreliable",
            Flag::MixedState => "mixed state",
            Flag::Overloaded(_) => "overloaded",
            Flag::Other(text) => text,
        }
    }

    /// The badge's tooltip: what it means here.
    pub fn title(&self) -> String {
        match self {
            Flag::Implausible(why) | Flag::Overloaded(why) => why.clone(),
            _ => self.meaning().to_owned(),
        }
    }

    /// What the flag means, for the legend under the table.
    pub fn meaning(&self) -> &'static str {
        match self {
            Flag::Noisy => "the interval is wider than the run's noise threshold",
            Flag::Implausible(_) => {
                "faster than native code of the same source: a measurement effect, not a finding (hover for why)"
            }
            Flag::Unreliable => {
                "native code against itself (A/A) was off by more than 2% on this filter and workload"
            }
            Flag::MixedState => "too few rounds in the machine's fast state: all rounds used",
            Flag::Overloaded(_) => "the fixed-rate run missed its rate: its latency is left out",
            Flag::Other(_) => "as written",
        }
    }
}

/// Splits a verdict cell (`slower, noisy, IMPLAUSIBLE: why, A/A unreliable`) into the verdict
/// and its flags.
pub fn flags(text: &str) -> (&str, Vec<Flag>) {
    let mut parts = text.split(", ");
    let verdict = parts.next().unwrap_or("");
    let mut out: Vec<Flag> = Vec::new();
    for part in parts {
        let flag = match part {
            "noisy" => Flag::Noisy,
            "A/A unreliable" => Flag::Unreliable,
            "mixed state" => Flag::MixedState,
            p if p.starts_with("IMPLAUSIBLE: ") => {
                Flag::Implausible(p["IMPLAUSIBLE: ".len()..].to_owned())
            }
            p if p.contains("overloaded") => Flag::Overloaded(p.to_owned()),
            p => {
                // A comma inside an implausible cell's reason: it belongs to the reason.
                if let Some(Flag::Implausible(why)) = out.last_mut() {
                    why.push_str(", ");
                    why.push_str(p);
                    continue;
                }
                Flag::Other(p.to_owned())
            }
        };
        out.push(flag);
    }
    (verdict, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_move_to_a_second_line() {
        assert_eq!(
            split_interval("1.40x [1.37–1.43]"),
            ("1.40x".to_owned(), Some("1.37–1.43".to_owned()))
        );
        assert_eq!(
            split_interval("1.23 µs ±2.1%"),
            ("1.23 µs".to_owned(), Some("±2.1%".to_owned()))
        );
        assert_eq!(
            split_interval("+5.0 µs [2.3, 5.6] (1.12x)"),
            ("+5.0 µs (1.12x)".to_owned(), Some("2.3, 5.6".to_owned()))
        );
        assert_eq!(
            split_interval("wasmtime [v48]"),
            ("wasmtime [v48]".to_owned(), None)
        );
        assert_eq!(split_interval("headers"), ("headers".to_owned(), None));
    }

    #[test]
    fn numbers_sort_in_their_unit() {
        assert_eq!(sort_value("850 ns"), Some(850.0));
        assert_eq!(sort_value("1.20 µs"), Some(1200.0));
        assert_eq!(sort_value("1.40x"), Some(1.4));
        assert_eq!(sort_value("9,482 (1.25x)"), Some(9482.0));
        assert_eq!(sort_value("+5.0 µs"), Some(5000.0));
        assert_eq!(sort_value("2.0 MiB"), Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(sort_value("wasmtime-cranelift"), None);
        assert_eq!(sort_value("12 filters"), None);
    }

    #[test]
    fn verdict_cells_split_into_badges() {
        let (verdict, list) = flags(
            "faster, noisy, IMPLAUSIBLE: faster than native, an allocator effect, A/A unreliable",
        );
        assert_eq!(verdict, "faster");
        assert_eq!(
            list,
            vec![
                Flag::Noisy,
                Flag::Implausible("faster than native, an allocator effect".to_owned()),
                Flag::Unreliable
            ]
        );
        assert_eq!(flags("slower"), ("slower", vec![]));
    }
}
