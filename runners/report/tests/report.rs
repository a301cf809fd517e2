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

/// Put first in the head of a copy of the report: records every error and console error the
/// page raises, before its own script runs.
const CATCHER: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
const original = console.error;
console.error = (...args) => { window.__errors.push(args.join(' ')); original(...args); };
</script>"#;

/// Appended to a copy of the report: lists what the page loaded, what each chart and summary
/// figure drew, where the findings link, and whether sorting and filtering work.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const drawn = f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const text = svg ? [...svg.querySelectorAll('text')].map(t => t.textContent).join('').trim().length : 0;
    const shapes = svg ? svg.querySelectorAll('circle,rect,polyline,path,line').length : 0;
    const titles = svg ? svg.querySelectorAll('title').length : 0;
    return {id: f.id, width: box.width, height: box.height, text, shapes, titles};
  };
  const charts = [...document.querySelectorAll('figure.chart')].map(drawn);
  const figures = [...document.querySelectorAll('#summary figure')].map(drawn);
  const findings = [...document.querySelectorAll('ol.findings > li')].map(li => {
    const a = li.querySelector('a.rows');
    const href = a ? a.getAttribute('href') : null;
    return {text: li.textContent, href, target: href ? !!document.getElementById(href.slice(1)) : null};
  });
  const links = [...document.querySelectorAll('#summary svg a')].map(a => a.getAttribute('href'))
    .filter(h => !document.getElementById(h.slice(1)));
  const sections = [...document.querySelectorAll('section[id]')].map(s => s.id);
  const controls = document.querySelectorAll('.controls').length;
  // Sort the engines table by its third column and read the order back.
  let sorted = null;
  const engines = document.querySelector('#engines table.data');
  if (engines) {
    engines.tHead.rows[0].cells[2].click();
    const keys = [...engines.tBodies[0].rows].map(r => r.cells[2].getAttribute('data-sort'))
      .filter(k => k !== null).map(Number);
    sorted = keys.length > 1 && keys.every((k, i) => i === 0 || keys[i - 1] <= k);
  }
  // Filter the cells table by a word and count what stays.
  let filtered = null;
  const search = document.querySelector('#every-cell .controls input');
  if (search) {
    search.value = 'wasmi-eager';
    search.dispatchEvent(new Event('input'));
    const rows = [...document.querySelectorAll('#every-cell tbody tr')];
    filtered = {shown: rows.filter(r => !r.hidden).length, all: rows.length,
      wrong: rows.filter(r => !r.hidden && !r.textContent.includes('wasmi-eager')).length};
  }
  const resources = performance.getEntriesByType('resource').map(e => e.name);
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({charts, figures, findings, links, sections, controls, sorted,
    filtered, resources, errors: window.__errors});
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

/// Headless Chromium with a window of `size` (`1280,900`), no name resolution (a request to
/// the network fails at once) and the page's console on stderr.
fn headless(browser: &str, profile: &Path, size: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={size}"))
    .arg("--virtual-time-budget=5000");
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
    let copy = html
        .replacen("<head>", &format!("<head>{CATCHER}"), 1)
        .replace("</body>", &format!("{PROBE}</body>"));
    std::fs::write(&probed, copy).unwrap();
    let url = format!("file://{}", probed.display());

    let dom = headless(browser, &dir.path().join("profile-dom"), "1280,4000")
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&dom.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom
        .find("<pre id=\"probe\">")
        .expect("the page ran its probe")
        + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let probe: serde_json::Value = serde_json::from_str(
        &dom[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
    .unwrap();
    let errors = probe["errors"].as_array().unwrap();
    assert!(errors.is_empty(), "the page raised {errors:?}");
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
    // The first screen: the summary figure with a tooltip per cell (3 engines... 2 Wasm engines
    // × (2 filters + all)), and at most five findings whose links land on rows of the page.
    let figures = probe["figures"].as_array().unwrap();
    assert_eq!(figures.len(), written.figures.len(), "{figures:?}");
    assert_eq!(figures[0]["id"], "overview-in-process");
    assert!(figures[0]["titles"].as_u64().unwrap() >= 6, "{figures:?}");
    assert!(figures[0]["width"].as_f64().unwrap() > 200.0, "{figures:?}");
    let broken = probe["links"].as_array().unwrap();
    assert!(broken.is_empty(), "figure links lead nowhere: {broken:?}");
    let findings = probe["findings"].as_array().unwrap();
    assert!(
        (2..=5).contains(&findings.len()),
        "{} findings on the first screen: {findings:#?}",
        findings.len()
    );
    assert!(findings[0]["text"].as_str().unwrap().contains("In-process"));
    for f in findings {
        assert_ne!(f["target"], false, "a finding links nowhere: {f}");
    }
    let sections: Vec<&str> = probe["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for expected in ["summary", "engines", "charts", "every-cell", "method"] {
        assert!(
            sections.contains(&expected),
            "no section {expected}: {sections:?}"
        );
    }
    assert!(
        probe["controls"].as_u64().unwrap() >= 1,
        "no table got filters"
    );
    assert_eq!(probe["sorted"], true, "sorting the engines table failed");
    let filtered = &probe["filtered"];
    assert_eq!(filtered["wrong"], 0, "{filtered}");
    assert!(
        filtered["shown"].as_u64().unwrap() > 0
            && filtered["shown"].as_u64() < filtered["all"].as_u64(),
        "{filtered}"
    );

    // Screenshots of the first screen and of every section (a copy of the page that shows only
    // that section: headless screenshots do not scroll to a fragment), kept for a person to
    // look at.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&keep).unwrap();
    let mut pages = vec![("first-screen".to_owned(), written.index_html.clone())];
    for id in &sections {
        let page = dir.path().join(format!("only-{id}.html"));
        let style = format!("<style>body > :not(#{id}){{display:none}}</style></head>");
        std::fs::write(&page, html.replacen("</head>", &style, 1)).unwrap();
        pages.push(((*id).to_owned(), page));
    }
    for (name, page) in &pages {
        let screenshot = keep.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&screenshot);
        let status = headless(
            browser,
            &dir.path().join(format!("profile-{name}")),
            "1280,900",
        )
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
        assert!(status.status.success(), "{name}: {status:?}");
        let png = std::fs::read(&screenshot).expect("a screenshot was written");
        assert!(png.len() > 20_000, "{name}.png is only {} bytes", png.len());
    }
    eprintln!("screenshots in {}", keep.display());
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
