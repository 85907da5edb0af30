//! `copydesk passages` and `copydesk explain` on the sample files.

use assert_cmd::Command;
use std::path::Path;

fn sample(prefix: &str) -> (String, String) {
    for entry in std::fs::read_dir("samples").expect("samples folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            return (name, std::fs::read_to_string(&path).expect("sample text"));
        }
    }
    panic!("no sample {prefix}");
}

fn words(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_shared_statement_is_found_with_offsets_in_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.jsonl");
    Command::cargo_bin("copydesk")
        .unwrap()
        .args(["passages", "samples", "--output"])
        .arg(&out)
        .assert()
        .success();
    let (n2, t2) = sample("002_");
    let (n3, t3) = sample("003_");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(Path::new(&out))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut found = 0;
    for p in &lines {
        // 007 is a lede copy of 001 wrapped in furniture: one story, so their text is no passage.
        let ids: Vec<&str> = p["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert!(
            !(ids.iter().any(|i| i.starts_with("001_"))
                && ids.iter().any(|i| i.starts_with("007_"))),
            "{p}"
        );
        let text = words(p["text"].as_str().unwrap());
        // No passage is only a stock phrase.
        assert_ne!(text, "the russian foreign ministry");
        assert!(text.split(' ').count() >= 8, "short passage {text:?}");
        if !text.contains("foreign terrorists and mercenaries") {
            continue;
        }
        for o in p["occurrences"].as_array().unwrap() {
            let id = o["id"].as_str().unwrap();
            let body = if id == n2 {
                &t2
            } else if id == n3 {
                &t3
            } else {
                continue;
            };
            let (s, e) = (o["start"].as_u64().unwrap(), o["end"].as_u64().unwrap());
            let slice: String = body
                .chars()
                .skip(s as usize)
                .take((e - s) as usize)
                .collect();
            assert!(
                words(&slice).contains("prevent the use of foreign terrorists and mercenaries"),
                "{id} {s}..{e}: {slice:?}"
            );
            found += 1;
        }
    }
    assert_eq!(found, 2, "{lines:?}");
}

#[test]
fn by_story_lists_one_occurrence_per_story_with_its_copies_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.jsonl");
    Command::cargo_bin("copydesk")
        .unwrap()
        .args(["passages", "samples", "--by-story", "--output"])
        .arg(&out)
        .assert()
        .success();
    let (n2, t2) = sample("002_");
    let (n3, t3) = sample("003_");
    let (n6, t6) = sample("006_");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(Path::new(&out))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let statement = lines
        .iter()
        .find(|p| words(p["text"].as_str().unwrap()).contains("foreign terrorists and mercenaries"))
        .expect("the 002-003 statement");
    let slice = |body: &str, o: &serde_json::Value| -> String {
        let (s, e) = (o["start"].as_u64().unwrap(), o["end"].as_u64().unwrap());
        body.chars()
            .skip(s as usize)
            .take((e - s) as usize)
            .collect()
    };
    let occ = statement["occurrences"].as_array().unwrap();
    // 006 is a reprint of 003: one story, so two occurrences, and 006 under 003's copies.
    let ids: Vec<&str> = occ.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [n2.as_str(), n3.as_str()], "{statement}");
    assert!(occ[0]["copies"].as_array().unwrap().is_empty());
    let copies = occ[1]["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["id"], n6.as_str());
    for (body, o) in [(&t2, &occ[0]), (&t3, &occ[1]), (&t6, &copies[0])] {
        assert!(
            words(&slice(body, o))
                .contains("prevent the use of foreign terrorists and mercenaries"),
            "{o}"
        );
    }
}

#[test]
fn explain_reports_similarity_and_the_shared_span() {
    let (n2, _) = sample("002_");
    let (n3, _) = sample("003_");
    let output = Command::cargo_bin("copydesk")
        .unwrap()
        .args(["explain", &n2, &n3, "samples", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["edge"], false);
    assert!(v["jaccard"].as_f64().unwrap() < 0.5);
    let spans = v["shared_spans"].as_array().unwrap();
    assert!(
        spans
            .iter()
            .any(|s| words(s["text"].as_str().unwrap())
                .contains("foreign terrorists and mercenaries"))
    );
    assert!(v["ignored_lines"]["a"].is_array());
}

#[test]
fn explain_names_a_missing_id() {
    Command::cargo_bin("copydesk")
        .unwrap()
        .args(["explain", "nope", "nada", "samples"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no document with id"));
}
