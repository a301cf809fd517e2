//! The report from a real run (real bench filters on real engines): charts are valid SVG and
//! PNG with visible text, and the HTML opens in headless Chromium offline with every chart drawn.

use filterbench_harness::measure::MeasureSettings;
use filterbench_harness::run::{self, EngineSlot, RunSettings};
use filterbench_harness::{catalog, results::Results};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn small_run() -> Results {
    let filters: Vec<_> = catalog::filters()
        .into_iter()
        .filter(|f| ["noop", "headers"].contains(&f.name))
        .collect();
    let subjects = run::subjects(&filters).expect("bench filters build");
    let engines = ["native", "wasmtime-cranelift", "wasmi-eager"]
        .iter()
        .map(|name| EngineSlot {
            name: (*name).to_owned(),
            is_native: *name == "native",
            engine: filterbench_engines::create(name).expect("engine is compiled in"),
        })
        .collect::<Vec<_>>();
    let settings = RunSettings {
        measure: MeasureSettings {
            warmup: Duration::from_millis(5),
            rounds: 5,
            slice: Duration::from_millis(3),
            blocks: 2,
            phase_samples: 2,
            compile_samples: 1,
        },
        quick: true,
        workloads: Some(
            ["get-small", "headers-8", "headers-32"]
                .map(str::to_owned)
                .to_vec(),
        ),
        unavailable: Vec::new(),
        preflight: None,
        phases: true,
        analyze: true,
        between_run_sd: filterbench_harness::run::DEFAULT_BETWEEN_RUN_SD,
        failure_policy: Default::default(),
    };
    run::run(&subjects, &engines, &settings, &mut |_| {})
}

fn report() -> (tempfile::TempDir, filterbench_report::Written) {
    let dir = tempfile::tempdir().unwrap();
    let written = filterbench_report::write(&small_run(), dir.path()).expect("report written");
    (dir, written)
}

#[test]
fn charts_are_valid_svg_and_png_with_visible_text() {
    let (dir, written) = report();
    for expected in [
        "slowdown",
        "compile-vs-steady",
        "startup",
        "memory",
        "spectrum-noop",
    ] {
        assert!(
            written.charts.iter().any(|c| c == expected),
            "chart {expected} missing from {:?}",
            written.charts
        );
    }
    assert!(
        written
            .charts
            .iter()
            .any(|c| c.starts_with("scaling-headers"))
    );
    for chart in &written.charts {
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{chart}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        let texts = svg.matches("<text").count();
        assert!(texts >= 5, "{chart}.svg has {texts} text elements");
        assert!(svg.contains("<circle") || svg.contains("<polyline") || svg.contains("<rect"));
        let png = std::fs::read(dir.path().join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{chart}.png is not a PNG");
        assert!(
            png.len() > 10_000,
            "{chart}.png is only {} bytes",
            png.len()
        );
    }
    let readme = std::fs::read_to_string(&written.readme).unwrap();
    assert!(readme.contains("![") && readme.contains("charts/slowdown.svg"));
    assert!(dir.path().join("results.json").is_file());
}

/// Appended to a copy of the report: lists what the page loaded and what each chart drew.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const text = svg ? [...svg.querySelectorAll('text')].map(t => t.textContent).join('').trim().length : 0;
    const shapes = svg ? svg.querySelectorAll('circle,rect,polyline,path,line').length : 0;
    return {id: f.id, width: box.width, height: box.height, text, shapes};
  });
  const resources = performance.getEntriesByType('resource').map(e => e.name);
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({charts, resources});
  document.body.appendChild(pre);
});
</script>"#;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(browser: &str, profile: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(["--window-size=1280,4000", "--virtual-time-budget=5000"]);
    cmd
}

#[test]
fn html_report_opens_offline_in_headless_chromium_with_every_chart() {
    let browser = chromium().expect(
        "headless Chromium is needed for this test: `apt-get install chromium` (scripts/setup.sh does)",
    );
    let (dir, written) = report();
    let html = std::fs::read_to_string(&written.index_html).unwrap();
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !html.contains(attr),
            "the report references the network: {attr}"
        );
    }
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let url = format!("file://{}", probed.display());

    let dom = headless(browser, &dir.path().join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom
        .find("<pre id=\"probe\">")
        .expect("the page ran its probe")
        + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let probe: serde_json::Value = serde_json::from_str(
        &dom[start..end]
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
    .unwrap();
    let resources = probe["resources"].as_array().unwrap();
    assert!(resources.is_empty(), "the page loaded {resources:?}");
    let charts = probe["charts"].as_array().unwrap();
    assert_eq!(charts.len(), written.charts.len(), "{charts:?}");
    for chart in charts {
        assert!(chart["width"].as_f64().unwrap() > 200.0, "{chart}");
        assert!(chart["height"].as_f64().unwrap() > 100.0, "{chart}");
        assert!(
            chart["text"].as_u64().unwrap() > 10,
            "no visible text: {chart}"
        );
        assert!(
            chart["shapes"].as_u64().unwrap() > 5,
            "empty chart: {chart}"
        );
    }

    let screenshot = dir.path().join("report.png");
    let status = headless(browser, &dir.path().join("profile-shot"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", written.index_html.display()))
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let png = std::fs::read(&screenshot).expect("a screenshot was written");
    assert!(png.len() > 50_000, "screenshot is only {} bytes", png.len());
    let keep = std::env::var_os("CARGO_TARGET_TMPDIR").map(std::path::PathBuf::from);
    if let Some(keep) = keep {
        let _ = std::fs::copy(&screenshot, keep.join("report-screenshot.png"));
    }
}

#[test]
fn no_chart_has_overlapping_text_or_a_legend_over_its_data() {
    let (dir, written) = report();
    let mut found = Vec::new();
    for name in &written.charts {
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{name}.svg"))).unwrap();
        for collision in filterbench_report::svg_layout::collisions(&svg) {
            found.push(format!("{name}: {collision}"));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
