//! `copydesk check`: a corpus against budgets, for CI. It measures the duplicate rate (within
//! the corpus, and against an index when given) and the boilerplate line rate, prints a summary
//! on stdout and answers with the exit code.

use super::common::{init_threads, InputArgs};
use super::dedup::MatchArgs;
use super::index::cluster_against;
use anyhow::Result;
use clap::Args;
use copydesk::boilerplate::{self, CleanConfig};
use copydesk::dedup;
use copydesk::index::{Index, Parameters};
use copydesk::pipeline::InMemory;
use rayon::prelude::*;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "Exit codes:
  0  every budget holds (or none was given: the summary is a measurement)
  1  a budget was exceeded
  2  bad input or usage

duplicate rate = documents that duplicate an earlier one (in the input, or in --against INDEX) / documents
boilerplate rate = removed boilerplate lines / non-empty lines

Examples:
  copydesk check crawl/ --max-duplicate-rate 0.05 --max-boilerplate-rate 0.3
  copydesk check batch.jsonl.gz --against archive.index --max-duplicate-rate 0.01

In CI, e.g. a GitHub Actions step (a non-zero exit fails the job):
  - name: Duplicate budget
    run: |
      copydesk check data/incoming/ --against data/archive.index \\
        --max-duplicate-rate 0.02 --max-boilerplate-rate 0.30
      copydesk index add data/archive.index data/incoming/")]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub matching: MatchArgs,
    /// Also count documents that duplicate one stored in this index.
    #[arg(long, value_name = "INDEX")]
    pub against: Option<PathBuf>,
    /// Fail (exit 1) when duplicates / documents is above this rate.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub max_duplicate_rate: Option<f64>,
    /// Fail (exit 1) when removed boilerplate lines / non-empty lines is above this rate.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub max_boilerplate_rate: Option<f64>,
    /// Match on the raw texts (boilerplate is still measured).
    #[arg(long)]
    pub no_clean: bool,
    /// Print one JSON object instead of a readable text.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("a rate is between 0 and 1, got {rate}"))
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let config = args.matching.config()?;
    init_threads(args.threads)?;
    let parameters = Parameters {
        config,
        clean: !args.no_clean,
    };
    if let Some(index) = &args.against {
        // Fail before reading and sketching when the parameters cannot fit.
        Index::open(index)?.check_compatible(&parameters)?;
    }
    let loaded = args.input.load()?;
    let docs = &loaded.docs;

    // Clean every document once: the removed lines give the boilerplate rate, and matching
    // works on the same result, exactly as `dedup` does.
    let cleaned = boilerplate::clean_docs(docs, &CleanConfig::default(), &|| {});
    let lines: usize = docs
        .iter()
        .map(|d| d.text.lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    let removed: usize = cleaned
        .iter()
        .map(|c| {
            c.removed
                .iter()
                .filter(|r| !r.text.trim().is_empty())
                .count()
        })
        .sum();
    let (assignments, stored) = match &args.against {
        // The stored documents and these clustered as one run over both would: the same
        // matching as `dedup --against`.
        Some(index) => {
            drop(cleaned);
            let against = cluster_against(index, &parameters, &InMemory(docs))?;
            let stored = against.stored();
            (against.assignments, stored)
        }
        None => {
            let texts: Vec<String> = if parameters.clean {
                docs.par_iter()
                    .zip(&cleaned)
                    .map(|(d, c)| boilerplate::matching_text(&d.text, c))
                    .collect()
            } else {
                docs.iter().map(|d| d.text.clone()).collect()
            };
            drop(cleaned);
            let texts: Vec<&str> = texts.iter().map(|t| t.as_str()).collect();
            let sketches = dedup::sketch_texts(&texts, &parameters.config, &|| {});
            (dedup::cluster(sketches, &parameters.config)?.assignments, 0)
        }
    };
    let duplicates = assignments
        .iter()
        .filter(|a| a.duplicate_of.is_some())
        .count();
    let of_stored = assignments
        .iter()
        .filter(|a| a.duplicate_of.is_some_and(|k| (k as usize) < stored))
        .count();
    let duplicate_rate = ratio(duplicates, docs.len());
    let boilerplate_rate = ratio(removed, lines);
    let over = |rate: f64, budget: Option<f64>| budget.is_some_and(|b| rate > b);
    let duplicates_over = over(duplicate_rate, args.max_duplicate_rate);
    let boilerplate_over = over(boilerplate_rate, args.max_boilerplate_rate);

    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "documents": docs.len(),
            "rejected": loaded.rejected.len(),
            "duplicates": duplicates,
            "duplicates_of_stored": of_stored,
            "stored_documents": stored,
            "duplicate_rate": duplicate_rate,
            "max_duplicate_rate": args.max_duplicate_rate,
            "boilerplate_lines": removed,
            "lines": lines,
            "boilerplate_rate": boilerplate_rate,
            "max_boilerplate_rate": args.max_boilerplate_rate,
            "within_budget": !(duplicates_over || boilerplate_over),
        });
        writeln!(out, "{value}")?;
    } else {
        let verdict = |rate_over: bool, budget: Option<f64>| match budget {
            None => "no budget".to_string(),
            Some(b) if rate_over => format!("OVER budget {b}"),
            Some(b) => format!("within budget {b}"),
        };
        writeln!(
            out,
            "documents:        {} ({} rejected)",
            docs.len(),
            loaded.rejected.len()
        )?;
        if let Some(index) = &args.against {
            writeln!(
                out,
                "against:          {} ({stored} stored documents)",
                index.display()
            )?;
        }
        writeln!(
            out,
            "duplicates:       {duplicates} ({of_stored} of stored documents)"
        )?;
        writeln!(
            out,
            "duplicate rate:   {duplicate_rate:.4} ({})",
            verdict(duplicates_over, args.max_duplicate_rate)
        )?;
        writeln!(
            out,
            "boilerplate rate: {boilerplate_rate:.4} = {removed} / {lines} non-empty lines ({})",
            verdict(boilerplate_over, args.max_boilerplate_rate)
        )?;
    }
    if duplicates_over || boilerplate_over {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
