//! Command-line interface: argument parsing, wiring of the library, output and exit codes.
//!
//! Exit codes (also in `--help` and the README): 0 success; 1 a `check` budget was exceeded;
//! 2 bad input or usage. A closed stdout (broken pipe) is success.

/// `eprintln!` for the whole CLI, shadowing std's: a closed stderr (`copydesk ... 2>&1 | head -1`)
/// loses the message instead of panicking with exit status 101. Defined before the command
/// modules so that their `eprintln!` is this one.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod check;
mod clean;
mod common;
mod dedup;
mod eval;
mod explain;
mod index;
mod passages;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  `check` found the corpus over a budget
  2  bad input or usage (the message names the file and line)";

#[derive(Parser)]
#[command(
    name = "copydesk",
    version,
    about = "Clean scraped news text and find duplicated reporting in it.",
    long_about = "Clean scraped news text and find duplicated reporting in it.\n\n\
        Start with `copydesk dedup samples/`: it strips site furniture from every document, \
        clusters near-duplicates (reprinted wire copy, truncated and re-headlined copies) and \
        writes one line per document to clusters.jsonl.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cluster near-duplicate documents (the main job).
    Dedup(Box<index::DedupCommand>),
    /// Strip boilerplate lines: cleaned corpus plus a report of removed lines with reasons.
    Clean(clean::CleanArgs),
    /// Add documents to a persistent index, or show what one holds.
    Index(index::IndexArgs),
    /// Check a corpus against duplicate and boilerplate budgets (for CI; exit code 1 when over).
    Check(Box<check::CheckArgs>),
    /// Score a clustering against truth labels (ARI, pairwise and B-cubed F1).
    Eval(eval::EvalArgs),
    /// Find statements shared by different stories, with their offsets in the original text.
    Passages(Box<passages::PassagesArgs>),
    /// Explain why two documents match: similarities, shared spans, ignored boilerplate.
    Explain(Box<explain::ExplainArgs>),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dedup(args) => index::run_dedup(*args),
        Command::Clean(args) => clean::run(args),
        Command::Index(args) => index::run(args),
        Command::Check(args) => check::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Passages(args) => passages::run(*args),
        Command::Explain(args) => explain::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if common::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("copydesk: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
