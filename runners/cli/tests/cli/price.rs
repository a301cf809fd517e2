//! The hostcall price list: probes measured next to the do-nothing probe on each engine, a
//! price with an interval per operation and engine, in results.json, the terminal and the report.

use super::*;

#[test]
fn the_price_list_prices_each_operation_per_engine_with_intervals_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("price.json");
    let report = dir.path().join("report");
    let output = filterbench(&[
        "run",
        "--quick",
        "--filter",
        "price:get-body,price:log-disabled",
        "--engine",
        "wasmtime-cranelift,wasmi-eager,native",
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("hostcall price list"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(schema_errors(&json), Vec::<String>::new());

    // Every probe passed its check on every engine (the expected effects: set nothing here).
    let cells = json["cells"].as_array().unwrap();
    let probes: Vec<&serde_json::Value> = cells
        .iter()
        .filter(|c| c["filter"].as_str().unwrap().starts_with("price:"))
        .collect();
    assert!(!probes.is_empty());
    for c in &probes {
        let conformance = c["conformance"].as_str().unwrap();
        assert!(conformance == "pass" || conformance == "calibration", "{c}");
    }

    // callback, get-body (1 KiB, 64 KiB, and per KiB between them) and log-disabled on each of
    // the three engines.
    let prices = json["price"].as_array().unwrap();
    assert_eq!(prices.len(), 5 * 3, "{prices:#?}");
    let value = |op: &str, workload: &str, engine: &str| -> f64 {
        let p = prices
            .iter()
            .find(|p| p["operation"] == op && p["workload"] == workload && p["engine"] == engine)
            .unwrap_or_else(|| panic!("no price for {op} / {workload} / {engine}"));
        let ns = &p["ns"];
        let (low, mid, high) = (
            ns["low"].as_f64().unwrap(),
            ns["value"].as_f64().unwrap(),
            ns["high"].as_f64().unwrap(),
        );
        assert!(low <= mid && mid <= high, "{p}");
        assert!(p["rounds"].as_u64().unwrap() >= 6, "{p}");
        mid
    };
    for engine in ["wasmtime-cranelift", "wasmi-eager", "native"] {
        assert!(value("log-disabled", "get-small", engine) > 0.0);
        // 64 times the bytes: the slope method sees the copy grow.
        assert!(
            value("get-body", "post-64k", engine) > value("get-body", "post-1k", engine),
            "{engine}"
        );
        assert!(value("get-body per KiB", "post-64k − post-1k", engine) > 0.0);
        let callback = prices
            .iter()
            .find(|p| p["operation"] == "callback" && p["engine"] == engine)
            .unwrap();
        assert!(callback["repeat"].as_u64().unwrap() >= 4, "{callback}");
        value("callback", "get-small", engine);
    }

    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Hostcall price list"), "no price section");
    assert!(report.join("charts/price-list.svg").exists());
    assert!(
        html.contains("An empty hostcall"),
        "no finding on the empty hostcall"
    );
    assert!(
        !html.contains("spectrum-price:"),
        "the probes are not filters of the engine matrix"
    );
}
