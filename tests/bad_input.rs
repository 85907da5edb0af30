//! One test per bad-input class of the README's "Bad input" table, each on a real file under
//! `tests/data/bad/` (see the README there for what each fixture holds).
//!
//! Every class is checked the same way: under the default `--on-error fail` the message names
//! the file (and the line, where there is one) and the exit status is 2, with no output left
//! behind; under `--on-error skip --rejects R` the run goes on, and the outputs account for
//! every input record: kept + duplicates + rejected = input, read from the clusters file and
//! the rejects file themselves (and equal to the summary's counts). Repairs (NUL bytes, BOM,
//! line endings) and empty documents are not errors: they are checked to succeed under `fail`.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const BAD: &str = "tests/data/bad";

fn copydesk() -> Command {
    Command::cargo_bin("copydesk").expect("binary builds")
}

fn bad(name: &str) -> String {
    format!("{BAD}/{name}")
}

fn jsonl(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// Records in a JSONL fixture: its non-blank lines.
fn records_in(path: &str) -> usize {
    let bytes = std::fs::read(path).expect("fixture");
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count()
}

/// Documents in a folder fixture: its `.txt` entries, readable or not.
fn files_in(dir: &str) -> usize {
    std::fs::read_dir(dir)
        .expect("fixture folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".txt"))
        })
        .count()
}

/// What a `--on-error skip` run wrote.
struct Skipped {
    clusters: Vec<Value>,
    rejects: Vec<Value>,
    summary: Value,
    deduped: Vec<Value>,
}

impl Skipped {
    fn kept(&self) -> usize {
        self.clusters
            .iter()
            .filter(|r| r["duplicate_of"].is_null())
            .count()
    }
    fn duplicates(&self) -> usize {
        self.clusters.len() - self.kept()
    }
    fn row(&self, id: &str) -> &Value {
        self.clusters
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no output line for {id}: {:?}", self.clusters))
    }
    fn reasons(&self) -> Vec<String> {
        self.rejects
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["origin"].as_str().unwrap_or(""),
                    r["reason"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
    fn text_of(&self, id: &str) -> String {
        self.deduped
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["text"].as_str())
            .unwrap_or_else(|| panic!("{id} not in the deduped corpus"))
            .to_owned()
    }

    /// input = kept + duplicates + rejected, from the files and from the summary; every
    /// document of the clusters file appears once.
    fn assert_accounts_for(&self, input: usize) {
        assert_eq!(
            self.kept() + self.duplicates() + self.rejects.len(),
            input,
            "kept {} + duplicates {} + rejected {} (rejects: {:?})",
            self.kept(),
            self.duplicates(),
            self.rejects.len(),
            self.reasons()
        );
        assert_eq!(self.summary["documents"], input);
        assert_eq!(self.summary["kept"], self.kept());
        assert_eq!(self.summary["duplicates"], self.duplicates());
        assert_eq!(self.summary["rejected"], self.rejects.len());
        let ids: HashSet<&str> = self
            .clusters
            .iter()
            .map(|r| r["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ids.len(), self.clusters.len(), "an id appears twice");
    }
}

/// Run `copydesk dedup PATHS --on-error skip --rejects R` plus `extra`; it must succeed.
fn skip(paths: &[&str], extra: &[&str]) -> Skipped {
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.jsonl");
    let rejects = dir.path().join("rejects.jsonl");
    let deduped = dir.path().join("deduped.jsonl");
    let out = copydesk()
        .arg("dedup")
        .args(paths)
        .args(["--on-error", "skip", "--summary", "json", "--output"])
        .arg(&clusters)
        .arg("--rejects")
        .arg(&rejects)
        .arg("--write-deduped")
        .arg(&deduped)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .clone();
    let summary = serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim())
        .expect("one JSON summary on stderr");
    Skipped {
        clusters: jsonl(&std::fs::read(&clusters).expect("clusters written")),
        rejects: jsonl(&std::fs::read(&rejects).expect("rejects written")),
        summary,
        deduped: jsonl(&std::fs::read(&deduped).expect("deduped written")),
    }
}

/// Run `copydesk dedup PATHS` (default `--on-error fail`) plus `extra`: exit status 2, every
/// `needle` in the message, and no clusters file (nor a temporary one) left behind.
fn fails(paths: &[&str], extra: &[&str], needles: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.jsonl");
    let out = copydesk()
        .arg("dedup")
        .args(paths)
        .arg("--output")
        .arg(&clusters)
        .args(extra)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    }
    assert!(
        stderr.contains("hint:"),
        "a hint says how to go on: {stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "a failed run leaves no output"
    );
    stderr
}

/// Run `copydesk dedup PATHS` under the default `--on-error fail`; it must succeed.
fn succeeds(paths: &[&str], extra: &[&str]) -> Skipped {
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.jsonl");
    let deduped = dir.path().join("deduped.jsonl");
    let out = copydesk()
        .arg("dedup")
        .args(paths)
        .args(["--summary", "json", "--output"])
        .arg(&clusters)
        .arg("--write-deduped")
        .arg(&deduped)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .clone();
    Skipped {
        clusters: jsonl(&std::fs::read(&clusters).expect("clusters written")),
        rejects: Vec::new(),
        summary: serde_json::from_str(String::from_utf8_lossy(&out.stderr).trim())
            .expect("one JSON summary on stderr"),
        deduped: jsonl(&std::fs::read(&deduped).expect("deduped written")),
    }
}

#[test]
fn invalid_utf8_in_jsonl() {
    let file = bad("invalid_utf8.jsonl");
    fails(
        &[&file],
        &[],
        &["invalid_utf8.jsonl:2: invalid UTF-8 at byte 26"],
    );
    // --on-error skip: listed, the run goes on.
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(records_in(&file));
    assert_eq!(
        run.reasons(),
        [format!("{file}:2 invalid UTF-8 at byte 26")]
    );
    // --invalid-utf8 skip lists it even under the default --on-error fail.
    copydesk()
        .args(["dedup", &file, "--invalid-utf8", "skip", "--output", "-"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"bridge\"").and(predicate::str::contains("\"rail\"")));
    // --invalid-utf8 fail stops even under --on-error skip.
    fails(
        &[&file],
        &["--on-error", "skip", "--invalid-utf8", "fail"],
        &["invalid_utf8.jsonl:2: invalid UTF-8"],
    );
    // --invalid-utf8 replace keeps it with U+FFFD and counts it.
    let run = skip(&[&file], &["--invalid-utf8", "replace"]);
    run.assert_accounts_for(records_in(&file));
    assert!(run.rejects.is_empty());
    assert_eq!(run.summary["utf8_repaired"], 1);
    assert!(run.text_of("latin1").contains("Caf\u{FFFD} owners"));
}

#[test]
fn invalid_utf8_in_a_text_file() {
    let dir = bad("invalid_utf8_txt");
    fails(
        &[&dir],
        &[],
        &["invalid_utf8_txt/latin1.txt: invalid UTF-8 at byte 29 (line 3)"],
    );
    let run = skip(&[&dir], &[]);
    run.assert_accounts_for(files_in(&dir));
    assert_eq!(run.rejects.len(), 1);
    assert_eq!(run.rejects[0]["id"], "latin1.txt");
    let run = skip(&[&dir], &["--invalid-utf8", "replace"]);
    run.assert_accounts_for(files_in(&dir));
    assert_eq!(run.summary["utf8_repaired"], 1);
}

#[test]
fn nul_bytes_are_replaced_by_spaces_and_counted() {
    // A raw NUL inside a JSON string (line 2) and an escaped \u0000 (line 3): not errors.
    let file = bad("nul_bytes.jsonl");
    let run = succeeds(&[&file], &[]);
    assert_eq!(run.summary["nul_bytes_removed"], 2);
    assert_eq!(run.clusters.len(), records_in(&file));
    for id in ["bridge-raw-nul", "bridge-escaped-nul"] {
        assert_eq!(run.row(id)["duplicate_of"], "bridge", "{id}");
    }
    // The texts as read: a space where each NUL was.
    let out = copydesk()
        .args(["clean", &file, "--output", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let texts = jsonl(&out);
    assert!(texts[1]["text"]
        .as_str()
        .is_some_and(|t| t.contains("old harbour") && !t.contains('\0')));
    assert!(texts[2]["text"]
        .as_str()
        .is_some_and(|t| t.contains("steel supports") && !t.contains('\0')));
}

#[test]
fn malformed_jsonl_lines() {
    let file = bad("malformed.jsonl");
    let message = fails(
        &[&file],
        &[],
        &[
            "malformed.jsonl:2: not a JSON object: EOF while parsing a string at column 41",
            "--on-error skip",
        ],
    );
    assert!(
        !message.contains("line 1"),
        "serde's own 'line 1' is not the file's line: {message}"
    );
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(records_in(&file));
    let reasons = run.reasons();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with(&format!("{file}:2 not a JSON object")));
    assert!(reasons[1].starts_with(&format!(
        "{file}:4 not a JSON object: invalid type: sequence"
    )));
    assert!(reasons[2].starts_with(&format!("{file}:5 not a JSON object: trailing characters")));
    for id in ["bridge", "rail", "bakery"] {
        run.row(id);
    }
}

#[test]
fn missing_or_non_string_id_and_text_fields() {
    let file = bad("fields.jsonl");
    fails(
        &[&file],
        &[],
        &["fields.jsonl:2: missing text field \"text\""],
    );
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(records_in(&file));
    assert_eq!(
        run.reasons(),
        [
            format!("{file}:2 missing text field \"text\""),
            format!("{file}:3 field \"text\" is not a string"),
            format!("{file}:4 field \"text\" is not a string"),
            format!("{file}:5 field \"id\" is not a string or an integer"),
            format!("{file}:6 field \"id\" is not a string or an integer"),
            format!("{file}:7 field \"id\" is not a string or an integer"),
        ]
    );
    // A missing or null id becomes FILE:LINE; an integer id its decimal string.
    let ids: Vec<&str> = run
        .clusters
        .iter()
        .map(|r| r["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ids,
        ["bridge", &format!("{file}:8"), &format!("{file}:9"), "7"]
    );
}

#[test]
fn duplicate_ids() {
    let file = bad("duplicate_ids.jsonl");
    fails(
        &[&file],
        &[],
        &["duplicate_ids.jsonl:3: duplicate id \"bridge\" (first at tests/data/bad/duplicate_ids.jsonl:1)"],
    );
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(records_in(&file));
    assert_eq!(
        run.reasons(),
        [
            format!("{file}:3 duplicate id \"bridge\" (first at {file}:1)"),
            format!("{file}:5 duplicate id \"rail\" (first at {file}:2)"),
        ]
    );
    // The first record with the id is the one kept.
    assert!(run.text_of("bridge").starts_with("The city council voted"));
    // The same file given twice: every id of the second copy is a duplicate.
    let run = skip(&[&file, &file], &[]);
    run.assert_accounts_for(2 * records_in(&file));
    assert_eq!(run.rejects.len(), 2 + records_in(&file));
}

#[test]
fn empty_documents_are_kept_as_singletons() {
    let file = bad("empty_documents.jsonl");
    let run = succeeds(&[&file], &[]);
    assert_eq!(run.clusters.len(), records_in(&file));
    let clusters: HashSet<u64> = run
        .clusters
        .iter()
        .map(|r| r["cluster"].as_u64().unwrap_or(u64::MAX))
        .collect();
    assert_eq!(clusters.len(), 4, "two empty texts never match each other");
    assert!(run.clusters.iter().all(|r| r["duplicate_of"].is_null()));
}

#[test]
fn line_longer_than_max_doc_bytes() {
    let file = bad("long_line.jsonl");
    fails(
        &[&file],
        &["--max-doc-bytes", "512"],
        &["long_line.jsonl:2: line longer than --max-doc-bytes (512 bytes)"],
    );
    let run = skip(&[&file], &["--max-doc-bytes", "512"]);
    run.assert_accounts_for(records_in(&file));
    assert_eq!(run.rejects.len(), 1);
    run.row("bridge");
    run.row("bakery");
    // A text file over the limit.
    let dir = bad("oversized_txt");
    fails(
        &[&dir],
        &["--max-doc-bytes", "512"],
        &["oversized_txt/huge.txt: document larger than --max-doc-bytes (512 bytes)"],
    );
    let run = skip(&[&dir], &["--max-doc-bytes", "512"]);
    run.assert_accounts_for(files_in(&dir));
    assert_eq!(run.rejects[0]["id"], "huge.txt");
}

/// A single 100 MB line at the default limit (64 MiB), written at test time (not committed).
#[test]
fn single_100_mb_line_at_the_default_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge_line.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        writeln!(f, r#"{{"id":"before","text":"a short document"}}"#).expect("write");
        f.write_all(br#"{"id":"huge","text":""#).expect("write");
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"\"}\n").expect("write");
        writeln!(f, r#"{{"id":"after","text":"another short document"}}"#).expect("write");
        f.flush().expect("flush");
    }
    let file = path.to_string_lossy().into_owned();
    fails(
        &[&file],
        &[],
        &["huge_line.jsonl:2: line longer than --max-doc-bytes (67108864 bytes)"],
    );
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(3);
    assert_eq!(run.rejects.len(), 1);
    run.row("before");
    run.row("after");
}

#[test]
fn unreadable_or_vanished_files() {
    // unreadable/directory.txt is a symlink to its own folder (unreadable even for root),
    // unreadable/vanished.txt a symlink to a file that is gone.
    let dir = bad("unreadable");
    fails(
        &[&dir],
        &[],
        &["unreadable/directory.txt: cannot read: Is a directory"],
    );
    let run = skip(&[&dir], &[]);
    run.assert_accounts_for(files_in(&dir));
    assert_eq!(
        run.reasons(),
        [
            format!("{dir}/directory.txt cannot read: Is a directory (os error 21)"),
            format!("{dir}/vanished.txt cannot open: No such file or directory (os error 2)"),
        ]
    );
    // A path that does not exist: one rejected input, the other paths are read.
    let missing = bad("no-such-file.jsonl");
    fails(&[&missing], &[], &["no-such-file.jsonl: cannot read"]);
    let bridge = bad("unreadable/bridge.txt");
    let run = skip(&[&missing, &bridge], &[]);
    run.assert_accounts_for(2);
    assert!(run.reasons()[0].starts_with(&format!("{missing} cannot read")));
}

#[test]
fn truncated_gzip() {
    let file = bad("truncated.jsonl.gz");
    // The complete records before the damage, as flate2 itself decodes them.
    let mut decoded = Vec::new();
    let err = flate2::read::MultiGzDecoder::new(std::fs::File::open(&file).expect("fixture"))
        .read_to_end(&mut decoded);
    assert!(err.is_err(), "the fixture is truncated");
    let complete = decoded.iter().filter(|&&b| b == b'\n').count();
    assert!(complete >= 1);
    let bad_line = complete + 1;
    fails(
        &[&file],
        &[],
        &[&format!(
            "truncated.jsonl.gz:{bad_line}: cannot read (file truncated or corrupt?)"
        )],
    );
    // The records before the damage are read; the damaged rest counts as one rejected record.
    let run = skip(&[&file], &[]);
    run.assert_accounts_for(complete + 1);
    assert_eq!(run.rejects.len(), 1);
    assert!(run.reasons()[0].starts_with(&format!("{file}:{bad_line} cannot read")));
    // A .gz that is not gzip at all.
    let plain = bad("not_gzip.jsonl.gz");
    fails(
        &[&plain],
        &[],
        &["not_gzip.jsonl.gz:1: cannot read (file truncated or corrupt?): invalid gzip header"],
    );
    let run = skip(&[&plain, &file], &[]);
    run.assert_accounts_for(1 + complete + 1);
}

#[test]
fn empty_input() {
    let empty = bad("empty.jsonl");
    let folder = bad("no_text_files");
    for paths in [
        vec![empty.as_str()],
        vec![folder.as_str()],
        vec![&empty, &folder],
    ] {
        fails(&paths, &[], &["no documents"]);
        let run = skip(&paths, &[]);
        run.assert_accounts_for(0);
        assert!(run.clusters.is_empty());
    }
    // Empty stdin.
    copydesk()
        .args(["dedup", "-", "--output", "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-: no documents"));
    // An empty file beside a real one is fine: there is input.
    let bridge = bad("unreadable/bridge.txt");
    succeeds(&[&empty, &bridge], &[]);
}

#[test]
fn byte_order_marks() {
    // A BOM at the start of the file and another at line 3 (two files concatenated).
    let file = bad("bom.jsonl");
    let run = succeeds(&[&file], &[]);
    assert_eq!(run.clusters.len(), records_in(&file));
    assert_eq!(run.row("bridge-copy")["duplicate_of"], "bridge");
    assert_eq!(run.row("bridge-copy")["similarity"], 1.0);
    // A BOM at the start of a text file (line_endings/bom) reads as the plain page.
    let bom = std::fs::read(bad("line_endings/bom/page.txt")).expect("fixture");
    assert!(bom.starts_with("\u{FEFF}".as_bytes()));
    assert_eq!(cleaned("bom"), cleaned("lf"));
}

#[test]
fn crlf_between_jsonl_records() {
    let file = bad("crlf.jsonl");
    let bytes = std::fs::read(&file).expect("fixture");
    assert!(bytes.windows(2).any(|w| w == b"\r\n"));
    let run = succeeds(&[&file], &[]);
    assert_eq!(run.clusters.len(), records_in(&file));
    assert_eq!(run.row("bridge-crlf-inside")["duplicate_of"], "bridge");
    assert_eq!(run.row("rail")["duplicate_of"], Value::Null);
}

/// `copydesk clean --report` of `line_endings/NAME/page.txt`: (line, reason) of each removed line.
fn cleaned(name: &str) -> Vec<(u64, String)> {
    let out = copydesk()
        .args(["clean", &bad(&format!("line_endings/{name}/page.txt"))])
        .args(["--output", "/dev/null", "--report", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    jsonl(&out)
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn crlf_cr_and_mixed_line_endings_inside_documents() {
    // The same page with LF, CRLF, CR only, a mix of the three, and a BOM; each in its own
    // folder, so each is its own site and no line is a cross-page template.
    let lf = cleaned("lf");
    assert!(!lf.is_empty(), "the page has furniture to remove");
    for name in ["crlf", "cr", "mixed", "bom"] {
        assert_eq!(
            cleaned(name),
            lf,
            "{name}: the same lines removed as with LF"
        );
    }
    let run = succeeds(&[&bad("line_endings")], &[]);
    assert_eq!(run.clusters.len(), 5);
    let kept = run.clusters[0]["id"].as_str().unwrap_or("").to_owned();
    for row in &run.clusters[1..] {
        assert_eq!(row["duplicate_of"], kept.as_str(), "{row}");
        assert_eq!(row["similarity"], 1.0, "{row}");
    }
}

/// The fixtures this file relies on are all present (a clean clone keeps symlinks).
#[test]
fn fixtures_are_in_place() {
    for name in [
        "unreadable/directory.txt",
        "unreadable/vanished.txt",
        "unreadable/bridge.txt",
    ] {
        let path = PathBuf::from(BAD).join(name);
        assert!(
            std::fs::symlink_metadata(&path).is_ok(),
            "{} missing",
            path.display()
        );
    }
    assert!(Path::new(&bad("unreadable/directory.txt")).is_dir());
    assert!(!Path::new(&bad("unreadable/vanished.txt")).exists());
}
