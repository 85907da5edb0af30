//! `copydesk check`: the summary and the exit codes CI relies on (0 within budget, 1 over, 2 bad
//! input or usage).
//!
//! The fixture `site.jsonl`: three pages of example.com, each with a menu line and a newsletter
//! prompt (6 template lines of 14 non-empty lines), and a reprint of the first story on another
//! site (1 duplicate of 4 documents).

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn check() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_copydesk"));
    command.arg("check");
    command
}

#[test]
fn summary_counts_duplicates_and_boilerplate() {
    let out = check()
        .arg("--json")
        .arg(data("check/site.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["documents"], 4);
    assert_eq!(summary["duplicates"], 1);
    assert_eq!(summary["duplicate_rate"], 0.25);
    assert_eq!(summary["boilerplate_lines"], 6);
    assert_eq!(summary["lines"], 14);
    assert_eq!(summary["within_budget"], true);
}

#[test]
fn within_budget_exits_0() {
    check()
        .args([
            "--max-duplicate-rate",
            "0.25",
            "--max-boilerplate-rate",
            "0.5",
        ])
        .arg(data("check/site.jsonl"))
        .assert()
        .code(0)
        .stdout(contains("duplicate rate:   0.2500 (within budget 0.25)"));
}

#[test]
fn duplicates_over_budget_exit_1() {
    check()
        .args(["--max-duplicate-rate", "0.2"])
        .arg(data("check/site.jsonl"))
        .assert()
        .code(1)
        .stdout(contains("OVER budget 0.2"));
}

#[test]
fn boilerplate_over_budget_exits_1() {
    check()
        .args([
            "--max-duplicate-rate",
            "0.5",
            "--max-boilerplate-rate",
            "0.4",
        ])
        .arg(data("check/site.jsonl"))
        .assert()
        .code(1)
        .stdout(contains(
            "boilerplate rate: 0.4286 = 6 / 14 non-empty lines (OVER budget 0.4)",
        ));
}

#[test]
fn against_an_index_counts_stored_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .args(["index", "add"])
        .arg(&index)
        .arg(data("index/batch_a.jsonl"))
        .assert()
        .success();
    // batch_b: b1 reprints the stored a2, b3 copies b2: 2 duplicates of 3.
    check()
        .args(["--max-duplicate-rate", "0.5", "--against"])
        .arg(&index)
        .arg(data("index/batch_b.jsonl"))
        .assert()
        .code(1)
        .stdout(contains("duplicates:       2 (1 of stored documents)"));
    check()
        .args(["--max-duplicate-rate", "0.7", "--against"])
        .arg(&index)
        .arg(data("index/batch_b.jsonl"))
        .assert()
        .code(0);
}

#[test]
fn bad_input_or_usage_exits_2() {
    check()
        .args(["--max-duplicate-rate", "1.5"])
        .arg(data("check/site.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("a rate is between 0 and 1"));
    check().arg(data("check/missing.jsonl")).assert().code(2);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": \"x\", \"text\": \n").unwrap();
    check().arg(&bad).assert().code(2);
    check()
        .arg("--against")
        .arg(dir.path().join("missing.index"))
        .arg(data("check/site.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("no such index"));
}
