//! The later passes of `copydesk dedup` (verification, similarity, `--write-deduped`) parse
//! only the documents they need and pass over the other records unread. Records the first read
//! rejected (bad JSON, duplicate ids, invalid UTF-8, missing text, unreadable files) and lines
//! that are no record (blank lines) must not shift which document a later pass reads: the
//! outputs equal those of the same input without them, byte for byte.

use assert_cmd::Command;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

fn copydesk() -> Command {
    Command::cargo_bin("copydesk").expect("binary builds")
}

/// The dev slice's records, one JSON object each.
fn records() -> Vec<Vec<u8>> {
    let file = std::fs::File::open("tests/data/dev_slice.corpus.jsonl.gz").expect("fixture");
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_end(&mut text)
        .expect("gzip");
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The records with, between them, a bad JSON line, a copy of an earlier record (a duplicate
/// id), a record holding invalid UTF-8, a record without text and blank lines, and CRLF line
/// ends on every other record. Also gives the number of rejected records.
fn messy(records: &[Vec<u8>]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut rejected = 0;
    for (i, record) in records.iter().enumerate() {
        match i % 6 {
            0 => {
                out.extend_from_slice(b"{\"id\": \"broken\", \"text\": \"unterminated}\n");
                rejected += 1;
            }
            1 if i > 6 => {
                out.extend_from_slice(&records[i - 5]);
                out.push(b'\n');
                rejected += 1;
            }
            2 => {
                write!(out, "{{\"id\": \"latin1-{i}\", \"text\": \"caf").expect("write");
                out.extend_from_slice(b"\xe9 au lait\"}\n");
                rejected += 1;
            }
            3 => out.extend_from_slice(b"\n   \r\n\t\n"),
            4 => {
                out.extend_from_slice(b"{\"id\": \"no-text\"}\r\n");
                rejected += 1;
            }
            _ => {}
        }
        out.extend_from_slice(record);
        out.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
    }
    (out, rejected)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// What a run wrote: the clusters, the deduped corpus, and the summary.
#[derive(Debug, PartialEq)]
struct Run {
    clusters: Vec<u8>,
    deduped: Vec<u8>,
    summary: Value,
}

/// `copydesk dedup INPUT` under `--on-error skip --invalid-utf8 skip` with `extra` flags;
/// `stdin` is fed to the input `-`.
fn dedup(input: &Path, stdin: Option<&[u8]>, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let clusters = dir.path().join("clusters.jsonl");
    let deduped = dir.path().join("deduped.jsonl");
    let mut cmd = copydesk();
    cmd.arg("dedup")
        .arg(input)
        .args(["--on-error", "skip", "--invalid-utf8", "skip"])
        .args(["--summary", "json", "--output"])
        .arg(&clusters)
        .arg("--write-deduped")
        .arg(&deduped)
        .args(extra);
    if let Some(bytes) = stdin {
        cmd.write_stdin(bytes);
    }
    let out = cmd.assert().success().get_output().clone();
    let mut summary: Value = serde_json::from_slice(out.stderr.trim_ascii()).expect("json summary");
    for volatile in ["seconds", "output"] {
        summary
            .as_object_mut()
            .expect("summary object")
            .remove(volatile);
    }
    Run {
        clusters: std::fs::read(clusters).expect("clusters written"),
        deduped: std::fs::read(deduped).expect("deduped written"),
        summary,
    }
}

#[test]
fn rejected_records_and_blank_lines_do_not_shift_later_passes() {
    let records = records();
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = dir.path().join("clean.jsonl");
    let mut bytes = records.join(&b"\n"[..]);
    bytes.push(b'\n');
    std::fs::write(&clean, &bytes).expect("write");
    let (messy, rejected) = messy(&records);
    let plain = dir.path().join("messy.jsonl");
    std::fs::write(&plain, &messy).expect("write");
    let gz = dir.path().join("messy.jsonl.gz");
    std::fs::write(&gz, gzip(&messy)).expect("write");

    for extra in [
        &[][..],
        &[
            "--unit",
            "word",
            "--ngram",
            "5",
            "--threshold",
            "0.8",
            "--similarity",
            "jaccard",
        ][..],
        &["--no-clean"][..],
    ] {
        let expected = dedup(&clean, None, extra);
        let summary = &expected.summary;
        assert_eq!(summary["rejected"], 0);
        assert!(
            summary["candidate_pairs"].as_u64().unwrap_or(0) > 0
                && summary["duplicates"].as_u64().unwrap_or(0) > 0,
            "the later passes have work: {summary}"
        );
        for (input, stdin) in [
            (plain.as_path(), None),
            (gz.as_path(), None),
            (Path::new("-"), Some(messy.as_slice())),
        ] {
            let mut got = dedup(input, stdin, extra);
            let summary = got.summary.as_object_mut().expect("summary object");
            assert_eq!(summary["rejected"], rejected, "{input:?} {extra:?}");
            // The rejected records are counted as input documents; nothing else differs.
            let documents = summary["documents"].as_u64().unwrap_or(0);
            summary["documents"] = (documents - rejected as u64).into();
            summary["rejected"] = 0.into();
            assert_eq!(got, expected, "{input:?} {extra:?}");
        }
    }
}

#[cfg(unix)]
#[test]
fn rejected_files_do_not_shift_later_passes() {
    let records = records();
    let dir = tempfile::tempdir().expect("tempdir");
    let (clean, messy) = (dir.path().join("clean"), dir.path().join("messy"));
    for folder in [&clean, &messy] {
        std::fs::create_dir(folder).expect("mkdir");
        for (i, record) in records.iter().enumerate() {
            let value: Value = serde_json::from_slice(record).expect("record");
            let text = value["text"].as_str().expect("text");
            std::fs::write(folder.join(format!("{i:04}.txt")), text).expect("write");
        }
    }
    // Between the documents: files that are rejected (invalid UTF-8, cannot be opened).
    for i in (0..records.len()).step_by(5) {
        std::fs::write(messy.join(format!("{i:04}a.txt")), b"caf\xe9").expect("write");
        std::os::unix::fs::symlink(
            dir.path().join("nowhere"),
            messy.join(format!("{i:04}b.txt")),
        )
        .expect("symlink");
    }
    let expected = dedup(&clean, None, &[]);
    let got = dedup(&messy, None, &[]);
    assert_eq!(got.clusters, expected.clusters);
    assert_eq!(got.deduped, expected.deduped);
    let rejected = records.len().div_ceil(5) * 2;
    assert_eq!(got.summary["rejected"], rejected);
    assert!(expected.summary["duplicates"].as_u64().unwrap_or(0) > 0);
}
