//! `copydesk explain`: why two documents of a corpus match (or do not).

use super::common::{init_threads, InputArgs};
use super::passages::{excerpt, skipped_lines, tokenize_all};
use anyhow::{Context, Result};
use clap::Args;
use copydesk::boilerplate::{self, CleanConfig};
use copydesk::dedup::{self, DedupConfig};
use copydesk::passages::{self, PassageConfig, SeedIndex};
use serde_json::json;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  copydesk explain 002_b66736e49eee30f9.txt 003_c87b7926864de8b2.txt samples/
  copydesk explain d4f9f8774 de6985342 corpus.jsonl.gz --json

Seed frequencies of the shared spans are counted over the whole corpus given.")]
pub struct ExplainArgs {
    /// Id of the first document.
    #[arg(value_name = "A")]
    pub a: String,
    /// Id of the second document.
    #[arg(value_name = "B")]
    pub b: String,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Shortest shared span, in words.
    #[arg(long, default_value_t = PassageConfig::default().min_words)]
    pub min_words: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    init_threads(args.threads)?;
    let config = PassageConfig {
        min_words: args.min_words,
        ..PassageConfig::default()
    };
    config.validate()?;
    let loaded = args.input.load()?;
    let docs = &loaded.docs;
    let find = |id: &str| {
        docs.iter()
            .position(|d| d.id == id)
            .with_context(|| format!("no document with id {id:?} in the input"))
    };
    let (ia, ib) = (find(&args.a)?, find(&args.b)?);

    // Similarity exactly as `dedup` sees it: the whole corpus cleaned and sketched, stock
    // shingles dropped, then the pair checked.
    let dedup_config = DedupConfig::default();
    let cleaned = boilerplate::clean_docs(docs, &CleanConfig::default(), &|| {});
    let texts: Vec<String> = docs
        .iter()
        .zip(&cleaned)
        .map(|(d, c)| boilerplate::matching_text(&d.text, c))
        .collect();
    let texts: Vec<&str> = texts.iter().map(|t| t.as_str()).collect();
    let mut sketches = dedup::sketch_texts(&texts, &dedup_config, &|| {});
    dedup::remove_stock_shingles(&mut sketches, &dedup_config);
    let check = dedup::check_pair(&sketches[ia], &sketches[ib], &dedup_config);

    // Shared spans, with seed frequencies over the whole corpus.
    let tokens = tokenize_all(docs, &skipped_lines(docs, true), config.ocr_fold);
    let index = SeedIndex::build(&tokens, &config);
    let spans = passages::pair_spans(&tokens[ia], &tokens[ib], &index, &config);
    let shared: Vec<_> = spans
        .iter()
        .map(|s| {
            let (a0, a1) = tokens[ia].char_range(s.a_start, s.a_end);
            let (b0, b1) = tokens[ib].char_range(s.b_start, s.b_end);
            json!({
                "a": {"start": a0, "end": a1},
                "b": {"start": b0, "end": b1},
                "words": s.a_end - s.a_start,
                "seeds": s.seeds,
                "text": excerpt(&docs[ia].text, a0, a1),
            })
        })
        .collect();
    let ignored = |k: usize| -> Vec<_> {
        cleaned[[ia, ib][k]]
            .ignored_lines()
            .map(|r| json!({"line": r.line, "reason": r.reason.as_str(), "text": r.text}))
            .collect()
    };
    let report = json!({
        "a": docs[ia].id,
        "b": docs[ib].id,
        "jaccard": (check.jaccard * 1e6).round() / 1e6,
        "containment": (check.containment * 1e6).round() / 1e6,
        "shared_shingles": check.shared,
        "aligned": check.aligned,
        "edge": check.edge,
        "shared_spans": shared,
        "ignored_lines": {"a": ignored(0), "b": ignored(1)},
        "parameters": {"dedup": dedup_config, "passages": config},
    });
    if args.json {
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}  vs  {}", docs[ia].id, docs[ib].id);
    println!(
        "  jaccard {:.3}, containment {:.3} ({} shared {}-shingles), prefix-aligned: {}",
        check.jaccard,
        check.containment,
        check.shared,
        dedup_config.shingle.ngram,
        if check.aligned { "yes" } else { "no" }
    );
    println!(
        "  near-duplicate edge: {} ({:?} >= {})",
        if check.edge { "yes" } else { "no" },
        dedup_config.similarity,
        dedup_config.threshold
    );
    println!(
        "  shared spans (char offsets, end exclusive): {}",
        spans.len()
    );
    for s in &shared {
        println!(
            "    A {}..{}  B {}..{}  {} words: {}",
            s["a"]["start"], s["a"]["end"], s["b"]["start"], s["b"]["end"], s["words"], s["text"]
        );
    }
    for (k, id) in [(0, &docs[ia].id), (1, &docs[ib].id)] {
        let removed = &cleaned[k].removed;
        println!("  boilerplate ignored in {id}: {} lines", removed.len());
        for r in removed {
            println!(
                "    line {} ({}): {}",
                r.line,
                r.reason.as_str(),
                r.text.trim()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
