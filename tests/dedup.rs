//! End-to-end tests of `copydesk dedup` and `copydesk eval` on real files.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::collections::HashMap;

fn copydesk() -> Command {
    Command::cargo_bin("copydesk").expect("binary builds")
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

fn by_id(rows: &[Value]) -> HashMap<String, Value> {
    rows.iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_owned(), r.clone()))
        .collect()
}

#[test]
fn samples_cluster_the_reprints_with_their_stories() {
    let out = copydesk()
        .args(["dedup", "samples", "--output", "-"])
        .assert()
        .success()
        .stderr(predicate::str::contains("8 documents"))
        .get_output()
        .stdout
        .clone();
    let rows = lines(&out);
    assert_eq!(rows.len(), 8, "one line per input document");
    let r = by_id(&rows);
    assert_eq!(
        r["005_reprint_truncated_dateline.txt"]["duplicate_of"],
        "000_ddecea4b7023d627.txt"
    );
    assert_eq!(
        r["006_reprint_ocr_columns.txt"]["duplicate_of"],
        "003_c87b7926864de8b2.txt"
    );
    // 002 and 003 quote the same statement but are different stories.
    assert_ne!(
        r["002_b66736e49eee30f9.txt"]["cluster"],
        r["003_c87b7926864de8b2.txt"]["cluster"]
    );
    assert_ne!(
        r["000_ddecea4b7023d627.txt"]["cluster"],
        r["001_1ea3dea3c7d33062.txt"]["cluster"]
    );
    for seed in ["000", "001", "002", "003", "004"] {
        let row = rows
            .iter()
            .find(|x| x["id"].as_str().unwrap_or("").starts_with(seed))
            .expect("seed present");
        assert!(row["duplicate_of"].is_null(), "{seed} is kept");
    }
}

#[test]
fn dev_slice_quality_and_determinism() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for threads in ["1", "2", "2"] {
        let path = dir
            .path()
            .join(format!("clusters-{}-{}.jsonl", threads, outputs.len()));
        copydesk()
            .args([
                "dedup",
                "tests/data/dev_slice.corpus.jsonl.gz",
                "--threads",
                threads,
                "--output",
            ])
            .arg(&path)
            .assert()
            .success();
        outputs.push(std::fs::read(&path).expect("output written"));
    }
    assert_eq!(
        outputs[0], outputs[1],
        "--threads 1 and 2 give identical bytes"
    );
    assert_eq!(outputs[1], outputs[2], "two runs give identical bytes");
    let path = dir.path().join("clusters-1-0.jsonl");
    let out = copydesk()
        .args([
            "eval",
            "--json",
            "--truth",
            "tests/data/dev_slice.truth.jsonl.gz",
        ])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let scores: Value = serde_json::from_slice(&out).expect("json scores");
    let ari = scores["ari"].as_f64().unwrap_or(0.0);
    let b3 = scores["b3_f1"].as_f64().unwrap_or(0.0);
    assert!(ari >= 0.90, "ARI {ari}");
    assert!(b3 >= 0.93, "B3 F1 {b3}");
    assert!(scores["pair_precision"].as_f64().unwrap_or(0.0) >= 0.99);
}

#[test]
fn eval_matches_the_benchmark_scorer() {
    // Expected values were computed by the benchmark's eval_neardup.py on the same files.
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/dev_slice.messy.eval.json").expect("fixture"),
    )
    .expect("json");
    let out = copydesk()
        .args([
            "eval",
            "--json",
            "--truth",
            "tests/data/dev_slice.truth.jsonl.gz",
            "tests/data/dev_slice.messy.jsonl",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let got: Value = serde_json::from_slice(&out).expect("json");
    for key in [
        "ari",
        "pair_precision",
        "pair_recall",
        "pair_f1",
        "b3_precision",
        "b3_recall",
        "b3_f1",
    ] {
        let (g, e) = (
            got[key].as_f64().unwrap_or(f64::NAN),
            expected[key].as_f64().unwrap_or(0.0),
        );
        assert!((g - e).abs() <= 1e-9, "{key}: {g} vs {e}");
    }
    for key in [
        "pred_clusters",
        "true_clusters",
        "true_pairs",
        "pred_pairs",
        "tp_pairs",
    ] {
        assert_eq!(got[key], expected[key], "{key}");
    }
}

#[test]
fn bad_json_fails_naming_file_and_line() {
    copydesk()
        .args(["dedup", "tests/data/bad_records.jsonl", "--output", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad_records.jsonl:2"))
        .stderr(predicate::str::contains("not a JSON object"));
}

#[test]
fn skip_accounts_for_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let out = copydesk()
        .args([
            "dedup",
            "tests/data/bad_records.jsonl",
            "--on-error",
            "skip",
            "--summary",
            "json",
            "--output",
            "-",
            "--rejects",
        ])
        .arg(&rejects)
        .assert()
        .success()
        .get_output()
        .clone();
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 1, "only the valid record is clustered");
    let rejected = lines(&std::fs::read(&rejects).expect("rejects written"));
    let reasons: Vec<String> = rejected
        .iter()
        .map(|r| format!("{} {}", r["origin"], r["reason"]))
        .collect();
    assert_eq!(rejected.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains(":2") && reasons[0].contains("not a JSON object"));
    assert!(reasons[1].contains(":3") && reasons[1].contains("missing text field"));
    assert!(reasons[2].contains(":4") && reasons[2].contains("not a string"));
    assert!(reasons[3].contains(":5") && reasons[3].contains("duplicate id"));
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim()).expect("json summary");
    assert_eq!(summary["documents"], 5);
    assert_eq!(summary["rejected"], 4);
    assert_eq!(
        summary["kept"].as_u64().unwrap_or(0) + summary["duplicates"].as_u64().unwrap_or(0),
        1
    );
}

/// The banding a run used is in its summary: under Jaccard, bands that find 99 % of the pairs
/// at the threshold and a lede window at half of it; an explicit lede threshold wins.
#[test]
fn jaccard_runs_band_for_recall_at_the_threshold() {
    let parameters = |extra: &[&str]| {
        let out = copydesk()
            .args(["dedup", "samples", "--output", "-", "--summary", "json"])
            .args(extra)
            .assert()
            .success()
            .get_output()
            .clone();
        let summary: Value = serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim())
            .expect("json summary");
        summary["parameters"].clone()
    };
    let jaccard = parameters(&["--similarity", "jaccard", "--threshold", "0.8"]);
    assert_eq!(
        jaccard["bands"],
        serde_json::json!({"bands": 16, "rows": 6})
    );
    assert_eq!(jaccard["config"]["lede_threshold"], 0.4);
    let set = parameters(&["--similarity", "jaccard", "--lede-threshold", "0.3"]);
    assert_eq!(set["config"]["lede_threshold"], 0.3);
    let containment = parameters(&[]);
    assert_eq!(
        containment["bands"],
        serde_json::json!({"bands": 25, "rows": 5})
    );
    assert_eq!(containment["config"]["lede_threshold"], 0.3);
}

#[test]
fn invalid_utf8_fails_by_default_and_can_be_replaced() {
    copydesk()
        .args(["dedup", "tests/data/invalid_utf8.jsonl", "--output", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid_utf8.jsonl:2"))
        .stderr(predicate::str::contains("invalid UTF-8"));
    let out = copydesk()
        .args([
            "dedup",
            "tests/data/invalid_utf8.jsonl",
            "--invalid-utf8",
            "replace",
            "--output",
            "-",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(lines(&out).len(), 2);
}

#[test]
fn unreadable_path_is_an_error() {
    copydesk()
        .args(["dedup", "tests/data/no-such-file.jsonl", "--output", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-file.jsonl"));
}

#[test]
fn failed_run_leaves_no_output_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clusters.jsonl");
    copydesk()
        .args(["dedup", "tests/data/bad_records.jsonl", "--output"])
        .arg(&path)
        .assert()
        .code(2);
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn closed_stdout_is_success() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("copydesk"))
        .args([
            "dedup",
            "tests/data/dev_slice.corpus.jsonl.gz",
            "--output",
            "-",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // like `| head -0`: the reader is gone before the first line
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// A run killed at any moment leaves either no clusters file or a complete one, never a
/// partial file under the final name (a temporary `.clusters.jsonl.tmp-PID` may remain).
#[test]
fn killed_run_leaves_no_partial_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut complete_runs = 0;
    for (i, delay_ms) in [0u64, 20, 60, 120, 200, 400, 800, 3000]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("clusters-{i}.jsonl"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("copydesk"))
            .args(["dedup", "tests/data/dev_slice.corpus.jsonl.gz", "--output"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no destructor, no cleanup runs
        let _ = child.wait();
        if let Ok(text) = std::fs::read_to_string(&path) {
            let rows = lines(text.as_bytes());
            assert_eq!(rows.len(), 408, "{} is partial", path.display());
            complete_runs += 1;
        }
    }
    // The last delay is long enough for the run to finish: the check above saw a real file.
    assert!(complete_runs >= 1, "no run completed");
}
