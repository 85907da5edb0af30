//! `copydesk index add|stats` and `dedup --against`, driven through the real binary: batches,
//! ids, parameters, locking between processes, and atomicity under SIGKILL.

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_copydesk");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/index")
        .join(name)
}

fn copydesk() -> Command {
    Command::new(BIN)
}

fn add(index: &Path, input: &Path) -> assert_cmd::assert::Assert {
    copydesk()
        .arg("index")
        .arg("add")
        .arg(index)
        .arg(input)
        .assert()
}

fn stats(index: &Path) -> Value {
    let out = copydesk()
        .args(["index", "stats", "--json"])
        .arg(index)
        .output()
        .expect("run copydesk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats is JSON")
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn add_then_stats() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl"))
        .success()
        .stderr(contains("3 added"));
    let s = stats(&index);
    assert_eq!(s["documents"], 3);
    assert_eq!(s["batches"], 1);
    assert_eq!(s["format_version"], 3);
    assert_eq!(s["hash"], "xxh3-64 seed 0x636f70796465736b");
    let ngram = copydesk::dedup::DedupConfig::default().shingle.ngram;
    assert_eq!(s["parameters"]["config"]["shingle"]["ngram"], ngram);
    assert_eq!(s["parameters"]["clean"], true);
    assert!(s["file_bytes"].as_u64().unwrap() > 0);
    add(&index, &data("batch_b.jsonl")).success();
    let s = stats(&index);
    assert_eq!(s["documents"], 6);
    assert_eq!(s["batches"], 2);
    copydesk()
        .args(["index", "stats"])
        .arg(&index)
        .assert()
        .success()
        .stdout(contains("documents:   6"))
        .stdout(contains("bytes per document"));
}

#[test]
fn duplicate_id_is_an_error_naming_it_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    add(&index, &data("batch_a.jsonl"))
        .code(2)
        .stderr(contains("id \"a1\" is already in the index (batch 1)"))
        .stderr(contains("--replace"));
    let s = stats(&index);
    assert_eq!(s["documents"], 3);
    assert_eq!(s["batches"], 1);
}

/// The rows of one count table, sorted.
fn count_rows(index: &Path, table: &str) -> Vec<(i64, i64)> {
    let db = Connection::open(index).unwrap();
    let mut rows: Vec<(i64, i64)> = db
        .prepare(&format!("SELECT * FROM {table}"))
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort_unstable();
    rows
}

/// Replacing a page takes back what it added to the site's line counts: an index with a page
/// replaced twice counts its lines as one made of the final page does. Counted three times,
/// the page's own subheads would be site template on its third copy, and cleaned away.
#[test]
fn replacing_a_page_takes_back_its_site_line_counts() {
    let dir = tempfile::tempdir().unwrap();
    let page = |story: &str| {
        serde_json::json!({
            "id": "p1",
            "site": "example.org",
            "text": format!(
                "Harbour news\nBridge closed to trucks\n{story} The council voted on Monday \
                 to close the old bridge after engineers found cracks in two steel supports.\n\
                 Repairs will take most of the summer."
            ),
        })
        .to_string()
            + "\n"
    };
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    std::fs::write(&first, page("Update one.")).unwrap();
    std::fs::write(&second, page("Update two.")).unwrap();
    let replaced = dir.path().join("replaced.index");
    add(&replaced, &first).success();
    for input in [&second, &second] {
        copydesk()
            .args(["index", "add", "--replace"])
            .arg(&replaced)
            .arg(input)
            .assert()
            .success()
            .stderr(contains("0 added, 1 replaced"));
    }
    let fresh = dir.path().join("fresh.index");
    add(&fresh, &second).success();
    let templates = count_rows(&fresh, "template_counts");
    assert!(!templates.is_empty(), "the page's lines are counted");
    assert!(templates.iter().all(|&(_, pages)| pages == 1));
    assert_eq!(count_rows(&replaced, "template_counts"), templates);
    assert_eq!(
        count_rows(&replaced, "line_counts"),
        count_rows(&fresh, "line_counts")
    );
    // So the page checked against the index matches its stored copy whole.
    let out = copydesk()
        .args(["dedup", "--output", "-", "--against"])
        .arg(&replaced)
        .arg(&second)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["duplicate_of"], "p1");
    assert_eq!(rows[0]["similarity"], 1.0);
}

#[test]
fn replace_overwrites_stored_ids() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    copydesk()
        .args(["index", "add", "--replace"])
        .arg(&index)
        .arg(data("batch_a.jsonl"))
        .assert()
        .success()
        .stderr(contains("0 added, 3 replaced"));
    let s = stats(&index);
    assert_eq!(s["documents"], 3);
    assert_eq!(s["batches"], 2);
}

#[test]
fn incompatible_parameters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    let ngram = copydesk::dedup::DedupConfig::default().shingle.ngram;
    copydesk()
        .args(["index", "add", "--ngram", &(ngram + 1).to_string()])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .assert()
        .code(2)
        .stderr(contains(format!(
            "config.shingle.ngram (index: {ngram}, this run: {})",
            ngram + 1
        )));
    copydesk()
        .args(["dedup", "-o", "-", "--threshold", "0.7", "--against"])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("config.threshold"));
    copydesk()
        .args(["check", "--no-clean", "--against"])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("clean (index: true, this run: false)"));
    assert_eq!(stats(&index)["batches"], 1);
}

#[test]
fn dedup_against_names_stored_ids_and_prints_new_documents_only() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    let out = copydesk()
        .args(["dedup", "-o", "-", "--against"])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let got = lines(&out.stdout);
    let ids: Vec<&str> = got.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b1", "b2", "b3"]);
    // b1 is a truncated reprint of the stored a2; b3 a lightly edited copy of b2 (new).
    assert_eq!(got[0]["duplicate_of"], "a2");
    assert_eq!(got[1]["duplicate_of"], Value::Null);
    assert_eq!(got[2]["duplicate_of"], "b2");

    // The same answer as deduplicating both batches in one run, stored ones first.
    let whole = copydesk()
        .args(["dedup", "-o", "-"])
        .arg(data("batch_a.jsonl"))
        .arg(data("batch_b.jsonl"))
        .output()
        .unwrap();
    assert_eq!(lines(&whole.stdout)[3..], got[..]);
}

#[test]
fn not_an_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copydesk()
        .args(["index", "add"])
        .arg(data("batch_a.jsonl"))
        .arg(data("batch_b.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("not a copydesk index"));
    // Another program's SQLite database is refused, and left as it was (no WAL switch).
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    add(&foreign, &data("batch_a.jsonl"))
        .code(2)
        .stderr(contains("not a copydesk index"));
    let mode: String = Connection::open(&foreign)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    copydesk()
        .args(["index", "stats"])
        .arg(dir.path().join("missing.index"))
        .assert()
        .code(2)
        .stderr(contains("no such index"));
}

/// Take the write lock of `index` the way a writer in the middle of a batch holds it.
fn hold_write_lock(index: &Path) -> Connection {
    let conn = Connection::open(index).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[test]
fn second_writer_is_told_the_index_is_locked_while_readers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    let lock = hold_write_lock(&index);
    let started = Instant::now();
    copydesk()
        .args(["index", "add", "--lock-timeout", "0.3"])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("locked by another writer"));
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Readers are not blocked by the writer.
    assert_eq!(stats(&index)["documents"], 3);
    copydesk()
        .args(["dedup", "-o", "-", "--against"])
        .arg(&index)
        .arg(data("batch_b.jsonl"))
        .assert()
        .success()
        .stdout(contains("\"duplicate_of\":\"a2\""));
    drop(lock);
    add(&index, &data("batch_b.jsonl")).success();
    assert_eq!(stats(&index)["documents"], 6);
}

#[test]
fn several_readers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("news.index");
    add(&index, &data("batch_a.jsonl")).success();
    // A writer holding its lock too: readers must not wait for it.
    let lock = hold_write_lock(&index);
    let readers: Vec<std::process::Child> = (0..6)
        .map(|i| {
            let mut command = std::process::Command::new(BIN);
            if i % 2 == 0 {
                command
                    .args(["dedup", "-o", "-", "--against"])
                    .arg(&index)
                    .arg(data("batch_b.jsonl"));
            } else {
                command
                    .args(["check", "--against"])
                    .arg(&index)
                    .arg(data("batch_b.jsonl"));
            }
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for reader in readers {
        let out = reader.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("a2")
                || String::from_utf8_lossy(&out.stdout).contains("1 of stored")
        );
    }
    drop(lock);
}

/// A tiny deterministic PRNG (SplitMix64): no extra crate, the same delays on every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A few thousand documents of random words from a fixed vocabulary, written at test time.
fn write_big_fixture(path: &Path, documents: usize) {
    let mut rng = SplitMix(7);
    let syllables = [
        "ba", "ko", "ri", "te", "mu", "sa", "ne", "lo", "pi", "du", "ga", "ve",
    ];
    let vocabulary: Vec<String> = (0..2000)
        .map(|_| {
            (0..1 + rng.next() % 3)
                .map(|_| syllables[(rng.next() % syllables.len() as u64) as usize])
                .collect()
        })
        .collect();
    let mut out = String::new();
    for i in 0..documents {
        let words: Vec<&str> = (0..150)
            .map(|_| vocabulary[(rng.next() % vocabulary.len() as u64) as usize].as_str())
            .collect();
        out.push_str(
            &serde_json::json!({"id": format!("g{i}"), "text": words.join(" ")}).to_string(),
        );
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// Documents per batch, read straight from the database.
fn rows_per_batch(index: &Path) -> Vec<(i64, i64, i64)> {
    let conn = Connection::open(index).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT b.id, b.added, (SELECT count(*) FROM documents d WHERE d.batch = b.id)
             FROM batches b ORDER BY b.id",
        )
        .unwrap();
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// SIGKILL `copydesk index add` at random moments: the index must always open and hold the
/// killed batch whole or not at all. COPYDESK_KILL_TRIALS sets the number of trials (20).
#[test]
fn killed_writer_leaves_the_batch_whole_or_absent() {
    const DOCUMENTS: i64 = 3000;
    let trials: u64 = std::env::var("COPYDESK_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.jsonl");
    write_big_fixture(&big, DOCUMENTS as usize);

    // How long an uninterrupted add takes: the kills are spread over it.
    let reference = dir.path().join("reference.index");
    let started = Instant::now();
    add(&reference, &big).success();
    let full = started.elapsed();

    let mut rng = SplitMix(0x636f_7079);
    let (mut absent, mut mid_write, mut whole) = (0, 0, 0);
    for trial in 0..trials {
        let index = dir.path().join(format!("trial-{trial}.index"));
        add(&index, &data("batch_a.jsonl")).success();
        // Spread over the run, less its very start and its end (closing checkpoints the log, after
        // the commit).
        let delay = full.mul_f64((150 + rng.next() % 700) as f64 / 1000.0);
        let mut child = std::process::Command::new(BIN)
            .args(["index", "add"])
            .arg(&index)
            .arg(&big)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // Child::kill is SIGKILL on Unix: no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();

        // Frames in the write-ahead log without a committed batch: killed mid-transaction (the
        // first batch's log was checkpointed and removed when its writer closed).
        let mut wal = index.as_os_str().to_owned();
        wal.push("-wal");
        let wal_bytes = std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len());

        let s = stats(&index);
        let rows = rows_per_batch(&index);
        assert_eq!(
            rows[0],
            (1, 3, 3),
            "trial {trial}: the first batch is intact"
        );
        match rows.len() {
            1 => {
                absent += 1;
                if wal_bytes > 0 {
                    mid_write += 1;
                }
            }
            2 => {
                assert_eq!(
                    rows[1],
                    (2, DOCUMENTS, DOCUMENTS),
                    "trial {trial}: whole batch"
                );
                whole += 1;
            }
            n => panic!("trial {trial}: {n} batches"),
        }
        assert_eq!(
            s["documents"].as_i64(),
            Some(rows.iter().map(|r| r.2).sum())
        );
        if trial + 1 == trials {
            // The index takes writes again after a kill.
            copydesk()
                .args(["index", "add", "--replace"])
                .arg(&index)
                .arg(&big)
                .assert()
                .success();
        } else {
            std::fs::remove_file(&index).unwrap();
            for suffix in ["-wal", "-shm"] {
                let mut name = index.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
    }
    eprintln!(
        "{trials} kills over {:.0} ms: batch absent {absent} ({mid_write} of them killed mid-write), whole {whole}",
        full.as_secs_f64() * 1000.0
    );
}

/// Stories of random words, each printed 5 times under the same short headline: 3 copies in
/// `a`, 2 in `b`. The headline is in 3 documents of `a` alone (kept there) but in 5 of both
/// (dropped as a repeated line in one run over everything).
fn write_headline_fixture(a: &Path, b: &Path) {
    let mut rng = SplitMix(11);
    let syllables = ["ba", "ko", "ri", "te", "mu", "sa", "ne", "lo", "pi", "du"];
    let word = |rng: &mut SplitMix| -> String {
        (0..2 + rng.next() % 3)
            .map(|_| syllables[(rng.next() % syllables.len() as u64) as usize])
            .collect()
    };
    let (mut first, mut second) = (String::new(), String::new());
    for story in 0..12 {
        let headline: Vec<String> = (0..4).map(|_| word(&mut rng)).collect();
        let body: Vec<String> = (0..140).map(|_| word(&mut rng)).collect();
        for copy in 0..5 {
            // Copies cut at different lengths, in lines of 20 words (long lines: never dropped).
            let keep = 140 - copy * 18;
            let lines: Vec<String> = body[..keep].chunks(20).map(|c| c.join(" ")).collect();
            let text = format!(
                "{}\nBy Staff Writer\n{}",
                headline.join(" "),
                lines.join("\n")
            );
            let line = serde_json::json!({"id": format!("s{story}c{copy}"), "text": text});
            let out = if copy < 3 { &mut first } else { &mut second };
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    std::fs::write(a, first).unwrap();
    std::fs::write(b, second).unwrap();
}

fn dedup_output(args: &[&std::ffi::OsStr]) -> (Vec<Value>, Value) {
    let out = copydesk()
        .args(["dedup", "-o", "-", "--summary", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = serde_json::from_slice(&out.stderr).expect("JSON summary");
    (lines(&out.stdout), summary)
}

#[test]
fn lines_repeated_only_with_a_later_batch_give_the_output_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    write_headline_fixture(&a, &b);
    let (whole, _) = dedup_output(&[a.as_os_str(), b.as_os_str()]);
    let new = &whole[whole.len() / 5 * 3..];
    assert!(new.iter().any(|l| l["duplicate_of"].is_string()));

    // One batch stored, the other compared: stored sketches drop the headline on the fly.
    let index = dir.path().join("one.index");
    add(&index, &a).success();
    let (got, summary) = dedup_output(&["--against".as_ref(), index.as_os_str(), b.as_os_str()]);
    assert_eq!(got, new);
    assert!(
        summary["stored_sketches_replayed"].as_u64() > Some(0),
        "{summary}"
    );
    assert_eq!(summary["stored_sketches_stale"], 0);

    // Stored in two batches, the second making the headline repeated for the first: the
    // second add re-sketches the stored copies.
    let (a1, a2) = (dir.path().join("a1.jsonl"), dir.path().join("a2.jsonl"));
    let text = std::fs::read_to_string(&b).unwrap();
    std::fs::write(&a1, std::fs::read_to_string(&a).unwrap()).unwrap();
    std::fs::write(&a2, &text).unwrap();
    let two = dir.path().join("two.index");
    add(&two, &a1).success();
    add(&two, &a2)
        .success()
        .stderr(contains("0 stored documents re-sketched").not());
    // Against the index holding everything, a batch of exact copies of `b` under new ids.
    let copies = dir.path().join("copies.jsonl");
    std::fs::write(&copies, text.replace("\"id\":\"s", "\"id\":\"x")).unwrap();
    let (got, _) = dedup_output(&["--against".as_ref(), two.as_os_str(), copies.as_os_str()]);
    let (whole, _) = dedup_output(&[a.as_os_str(), b.as_os_str(), copies.as_os_str()]);
    assert_eq!(got, whole[whole.len() - got.len()..]);

    // check --against counts the same duplicates.
    let out = copydesk()
        .args(["check", "--json", "--against"])
        .arg(&index)
        .arg(&b)
        .output()
        .unwrap();
    let check: Value = serde_json::from_slice(&out.stdout).unwrap();
    let duplicates = new.iter().filter(|l| l["duplicate_of"].is_string()).count();
    assert_eq!(check["duplicates"], duplicates);
}

#[test]
fn an_index_of_an_older_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("old.index");
    let conn = Connection::open(&index).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('format', 'copydesk-index'), ('format_version', '1'),
             ('hash', 'xxh3-64 seed 0x636f70796465736b');
         CREATE TABLE documents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
             batch INTEGER NOT NULL, sketch BLOB NOT NULL);",
    )
    .unwrap();
    drop(conn);
    for args in [
        vec!["index", "stats"],
        vec!["dedup", "-o", "-", "--against"],
        vec!["check", "--against"],
    ] {
        let mut command = copydesk();
        command.args(&args).arg(&index);
        if args[0] != "index" {
            command.arg(data("batch_b.jsonl"));
        }
        command
            .assert()
            .code(2)
            .stderr(contains("format version 1 is not supported"))
            .stderr(contains("reads version 3"));
    }
    add(&index, &data("batch_a.jsonl"))
        .code(2)
        .stderr(contains("format version 1 is not supported"));
}
