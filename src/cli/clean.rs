//! `copydesk clean`: strip boilerplate lines, write the cleaned corpus and a removal report.
//!
//! Two passes: the first counts line hashes per site (template lines), the second classifies
//! every document in parallel. Output order is input order whatever the thread count.

use super::common::{init_threads, AtomicOutput, InputArgs, Progress};
use anyhow::Result;
use clap::Args;
use copydesk::boilerplate::{self, CleanConfig, Cleaned, Reason};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  copydesk clean samples/ --output cleaned.jsonl
  copydesk clean corpus.jsonl.gz --site-field site --output cleaned.jsonl --report removed.jsonl

Output: one JSON line per input document, in input order: {\"id\": ..., \"text\": ...}
Report: one JSON line per removed line: {\"id\", \"line\" (1-based), \"text\", \"reason\"}
Reasons: template, repeated_in_page, prompt, widget, name_list, short_line, outside_article.
Lines repeated across pages of one site count as template only when the site is known
(--site-field, the host of --url-field, or the folder of a text file).")]
pub struct CleanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the cleaned corpus (JSONL); - for stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write every removed line with its reason (JSONL).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A line seen on at least this many pages of one site is template.
    #[arg(long, default_value_t = CleanConfig::default().min_template_pages)]
    pub min_template_pages: u32,
    /// A line with at least this many words and sentence punctuation is prose.
    #[arg(long, default_value_t = CleanConfig::default().prose_words, hide = true)]
    pub prose_words: usize,
    /// Outside the article, lines need this many words (and sentence punctuation) to stay.
    #[arg(long, default_value_t = CleanConfig::default().outside_keep_words, hide = true)]
    pub outside_keep_words: usize,
    /// Density penalty of date, time and counter lines.
    #[arg(long, default_value_t = CleanConfig::default().widget_penalty, hide = true)]
    pub widget_penalty: f64,
    /// Density penalty of short lines without sentence punctuation (pages without a template).
    #[arg(long, default_value_t = CleanConfig::default().short_penalty, hide = true)]
    pub short_penalty: f64,

    /// Worker threads (0: one per core). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(args: CleanArgs) -> Result<ExitCode> {
    if args.min_template_pages < 2 {
        anyhow::bail!(
            "--min-template-pages must be at least 2 (a line on one page is not a template)"
        );
    }
    let config = CleanConfig {
        min_template_pages: args.min_template_pages,
        prose_words: args.prose_words,
        outside_keep_words: args.outside_keep_words,
        widget_penalty: args.widget_penalty,
        short_penalty: args.short_penalty,
        ..CleanConfig::default()
    };
    init_threads(args.threads)?;
    let started = Instant::now();
    let loaded = args.input.load()?;
    let docs = &loaded.docs;

    let cleaning = Instant::now();
    let progress = Progress::bar("cleaning", docs.len());
    let cleaned: Vec<Cleaned> = boilerplate::clean_docs(docs, &config, &|| progress.inc());
    progress.finish();
    let clean_seconds = cleaning.elapsed().as_secs_f64();

    let mut out = AtomicOutput::create(&args.output)?;
    for (doc, c) in docs.iter().zip(&cleaned) {
        serde_json::to_writer(&mut out, &json!({"id": doc.id, "text": c.text}))?;
        out.write_all(b"\n")?;
    }
    out.commit()?;
    if let Some(path) = &args.report {
        let mut out = AtomicOutput::create(path)?;
        for (doc, c) in docs.iter().zip(&cleaned) {
            for r in &c.removed {
                let line =
                    json!({"id": doc.id, "line": r.line, "text": r.text, "reason": r.reason});
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
        }
        out.commit()?;
    }

    let seconds = started.elapsed().as_secs_f64();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let lines: usize = docs
        .iter()
        .map(|d| d.text.lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    let mut by_reason = [0usize; Reason::ALL.len()];
    for c in &cleaned {
        for r in &c.removed {
            if let Some(k) = Reason::ALL.iter().position(|x| *x == r.reason) {
                by_reason[k] += 1;
            }
        }
    }
    let removed: usize = by_reason.iter().sum();
    eprintln!(
        "copydesk clean: {} documents ({} rejected), {} of {} lines removed ({:.1} %), {:.1} MB in {:.2} s ({:.1} MB/s; classifying alone {:.1} MB/s)",
        docs.len(),
        loaded.rejected.len(),
        removed,
        lines,
        100.0 * removed as f64 / lines.max(1) as f64,
        bytes as f64 / 1e6,
        seconds,
        bytes as f64 / 1e6 / seconds.max(1e-9),
        bytes as f64 / 1e6 / clean_seconds.max(1e-9)
    );
    let parts: Vec<String> = Reason::ALL
        .iter()
        .zip(by_reason)
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    if !parts.is_empty() {
        eprintln!("  removed by reason: {}", parts.join(", "));
    }
    eprintln!("  cleaned corpus written to {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
