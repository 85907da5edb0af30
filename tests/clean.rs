//! `copydesk clean` on the real scraped samples and on a small multi-site fixture.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("output file");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Runs `copydesk clean` and returns (id -> cleaned text, id -> {line: (text, reason)}).
type Removed = BTreeMap<String, BTreeMap<u64, (String, String)>>;

fn run_clean(input: &Path) -> (Vec<(String, String)>, Removed) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cleaned.jsonl");
    let report = dir.path().join("removed.jsonl");
    Command::cargo_bin("copydesk")
        .expect("binary")
        .arg("clean")
        .arg(input)
        .arg("--output")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .assert()
        .success()
        .stderr(predicates::str::contains("documents"));
    let docs = read_jsonl(&out)
        .into_iter()
        .map(|v| {
            (
                v["id"].as_str().expect("id").to_owned(),
                v["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect();
    let mut removed: Removed = BTreeMap::new();
    for v in read_jsonl(&report) {
        removed
            .entry(v["id"].as_str().expect("id").to_owned())
            .or_default()
            .insert(
                v["line"].as_u64().expect("line"),
                (
                    v["text"].as_str().expect("text").to_owned(),
                    v["reason"].as_str().expect("reason").to_owned(),
                ),
            );
    }
    (docs, removed)
}

#[test]
fn samples_lose_their_furniture_and_keep_every_paragraph() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let (docs, removed) = run_clean(&samples);
    assert_eq!(docs.len(), 8);

    // (file, 1-based line, reason): all the furniture of the samples. The five seed articles
    // carry little; the reprints 005 and 007 are wrapped in site furniture of their own.
    let furniture: &[(&str, u64, &str)] = &[
        ("001_1ea3dea3c7d33062.txt", 1, "short_line"), // "All news"
        ("004_9317b217fb2c2362.txt", 1, "name_list"),  // the 81 provinces
        ("004_9317b217fb2c2362.txt", 2, "widget"),     // "İstanbul °C"
        ("004_9317b217fb2c2362.txt", 4, "repeated_in_page"),
        ("004_9317b217fb2c2362.txt", 6, "repeated_in_page"),
        ("004_9317b217fb2c2362.txt", 12, "repeated_in_page"),
        ("004_9317b217fb2c2362.txt", 14, "widget"), // ", 2023"
        ("004_9317b217fb2c2362.txt", 16, "repeated_in_page"),
        ("004_9317b217fb2c2362.txt", 55, "prompt"), // "Be the first to recommend it ..."
        ("005_reprint_truncated_dateline.txt", 3, "short_line"), // "By Trend staff writer"
        ("005_reprint_truncated_dateline.txt", 11, "prompt"), // "Follow us on Twitter ..."
        ("005_reprint_truncated_dateline.txt", 13, "prompt"), // "Share this article: ..."
        ("007_reprint_aggregator_lede.txt", 1, "name_list"), // "Home | World | ..."
        ("007_reprint_aggregator_lede.txt", 3, "prompt"), // "Log in | Register"
        ("007_reprint_aggregator_lede.txt", 5, "name_list"), // "Trending: Karabakh | ..."
        ("007_reprint_aggregator_lede.txt", 13, "short_line"), // "Read the full story at ..."
        ("007_reprint_aggregator_lede.txt", 15, "short_line"), // "Share on Facebook ..."
        ("007_reprint_aggregator_lede.txt", 17, "outside_article"), // the cookie notice
        ("007_reprint_aggregator_lede.txt", 19, "prompt"), // "© 2020 Caucasus Wire. ..."
    ];
    let expected: BTreeSet<(String, u64, String)> = furniture
        .iter()
        .map(|(id, line, reason)| (id.to_string(), *line, reason.to_string()))
        .collect();
    let got: BTreeSet<(String, u64, String)> = removed
        .iter()
        .flat_map(|(id, lines)| {
            lines
                .iter()
                .map(move |(line, (_, reason))| (id.clone(), *line, reason.clone()))
        })
        .collect();
    assert_eq!(got, expected);

    // Every other non-empty line (headlines, subheads, body paragraphs) is kept, in order.
    for (id, cleaned) in &docs {
        let original = std::fs::read_to_string(samples.join(id)).expect("sample");
        let gone = removed.get(id);
        let kept: Vec<&str> = original
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                !l.trim().is_empty() && !gone.is_some_and(|g| g.contains_key(&(*i as u64 + 1)))
            })
            .map(|(_, l)| l)
            .collect();
        let out: Vec<&str> = cleaned.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(out, kept, "{id}");
    }
    let by_id: BTreeMap<&str, &str> = docs.iter().map(|(i, t)| (i.as_str(), t.as_str())).collect();
    assert!(by_id["003_c87b7926864de8b2.txt"]
        .starts_with("Russia calls for withdrawal of foreign mercenaries from Nagorno-Karabakh\n"));
    assert!(by_id["002_b66736e49eee30f9.txt"]
        .contains("\nAlleged foreign terrorist from Russia! Mercenaries in Nagorno-Karabakh.\n"));
    assert!(by_id["004_9317b217fb2c2362.txt"].starts_with("“We – Azerbaijanis living"));
    // The reprints keep their headlines.
    assert!(by_id["005_reprint_truncated_dateline.txt"]
        .starts_with("Thousands of ethnic Armenians recruited to fight in Karabakh, Baku says\n"));
    assert!(by_id["007_reprint_aggregator_lede.txt"]
        .starts_with("Azerbaijan says no foreign soldiers fight in its operations\n"));
}

#[test]
fn reprints_in_one_folder_keep_their_shared_headline() {
    // A folder is only a hint of a site: two reprints of one story in it share their headline,
    // which is not the site's template, while the masthead line on every page is.
    let headline = "Council expands bus network to northern suburbs";
    let masthead = "The Springfield Ledger";
    let para = [
        "The council voted on Tuesday to expand the bus network, adding six routes that will connect the northern suburbs with the hospital.",
        "Officials said the new routes would start in March, and that fares would stay at current levels for at least two years.",
        "Farmers in the valley reported the earliest harvest in a decade, helped by a warm spring and steady rain through the summer months.",
        "Prices at the weekly market fell by a third as growers brought more fruit than the local buyers and canneries could take in.",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("a.txt", [masthead, headline, para[0], para[1]].join("\n")),
        (
            "b.txt",
            [masthead, headline, "By Staff", para[0]].join("\n"),
        ),
        (
            "c.txt",
            [
                masthead,
                "Early harvest brings prices down",
                para[2],
                para[3],
            ]
            .join("\n"),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    let (docs, removed) = run_clean(dir.path());
    assert_eq!(docs.len(), 3);
    for (id, text) in &docs {
        let lines = &removed[id];
        assert_eq!(
            lines.get(&1),
            Some(&(masthead.to_owned(), "template".to_owned())),
            "{id}: {lines:?}"
        );
        assert!(!text.contains(masthead), "{id}");
        if id != "c.txt" {
            assert!(text.starts_with(&format!("{headline}\n")), "{id}: {text}");
        }
    }
}

#[test]
fn site_templates_go_only_when_the_site_is_known() {
    let para = [
        "The council voted on Tuesday to expand the bus network, adding six routes that will connect the northern suburbs with the hospital.",
        "Officials said the new routes would start in March, and that fares would stay at current levels for at least two years.",
        "Farmers in the valley reported the earliest harvest in a decade, helped by a warm spring and steady rain through the summer months.",
        "Prices at the weekly market fell by a third as growers brought more fruit than the local buyers and canneries could take in.",
    ];
    let template = "The Springfield Ledger is an independent newspaper.";
    let page = |a: &str, b: &str| format!("{a}\n{template}\n{b}");
    let records = [
        serde_json::json!({"id": "site-1", "site": "ledger.example", "text": page(para[0], para[1])}),
        serde_json::json!({"id": "site-2", "site": "ledger.example", "text": page(para[2], para[3])}),
        serde_json::json!({"id": "free-1", "text": page(para[0], para[1])}),
        serde_json::json!({"id": "free-2", "text": page(para[2], para[3])}),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("corpus.jsonl");
    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&input, body).expect("write fixture");

    let (docs, removed) = run_clean(&input);
    let ids: Vec<&str> = docs.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, ["site-1", "site-2", "free-1", "free-2"]);
    for id in ["site-1", "site-2"] {
        let lines = &removed[id];
        assert_eq!(lines.len(), 1, "{id}: {lines:?}");
        assert_eq!(lines[&2], (template.to_owned(), "template".to_owned()));
    }
    assert!(!removed.contains_key("free-1") && !removed.contains_key("free-2"));
    for (id, text) in &docs {
        assert_eq!(text.contains(template), id.starts_with("free"), "{id}");
    }
}

#[test]
fn pages_of_one_site_sharing_a_template_stay_apart_in_dedup() {
    // One synthetic site of the shub_sites benchmark (../shared/bench/boilerplate, made from
    // the scrapinghub article-extraction-benchmark, MIT): eleven different articles wrapped in
    // one site's header and footer. `dedup` cleans first, so the shared template does not make
    // two articles look alike (measured: with --no-clean two of them are merged).
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shub_sites_site01.jsonl.gz");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("clusters.jsonl");
    Command::cargo_bin("copydesk")
        .expect("binary")
        .arg("dedup")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .success();
    let rows = read_jsonl(&out);
    assert_eq!(rows.len(), 11);
    let clusters: BTreeSet<u64> = rows
        .iter()
        .map(|r| r["cluster"].as_u64().expect("cluster"))
        .collect();
    assert_eq!(clusters.len(), 11, "{rows:?}");
}
