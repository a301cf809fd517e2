//! `filterbench report`: the terminal table and the Markdown report of a fixed results file, as
//! reviewed snapshots (after an intended change: `INSTA_UPDATE=always cargo test --release
//! --test cli report::`, then read the diff of `tests/cli/snapshots/` before committing).

use super::*;

#[test]
fn the_table_and_the_markdown_report_of_a_fixed_run_are_as_reviewed() {
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/small-results.json");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let output = filterbench(&[
        "report",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // The last line names the temporary folder.
    let stdout = text(&output.stdout);
    let table: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("report written"))
        .collect();
    insta::assert_snapshot!("report_table", table.join("\n"));
    let markdown = std::fs::read_to_string(out.join("README.md")).unwrap();
    insta::assert_snapshot!("report_markdown", markdown);
    // Every chart reads cleanly: no text on text, no legend over data.
    let found = chart_collisions(&out);
    assert!(found.is_empty(), "{found:?}");
}
