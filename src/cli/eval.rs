//! `copydesk eval`: score a clustering against truth labels.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Truth labels: JSONL (optionally .gz) with {"id", "cluster"} per line.
    #[arg(long, value_name = "TRUTH")]
    pub truth: PathBuf,
    /// Predicted clusters (clusters.jsonl from `copydesk dedup`).
    #[arg(value_name = "CLUSTERS")]
    pub clusters: PathBuf,
    /// Print the scores as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Read `{"id", "cluster"}` lines; labels may be strings or integers.
fn read_labels(path: &Path) -> Result<(Vec<String>, HashMap<String, String>)> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn BufRead> = if path.to_string_lossy().ends_with(".gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut order = Vec::new();
    let mut labels = HashMap::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: bad JSON", path.display(), n + 1))?;
        let (Some(id), Some(cluster)) = (value.get("id"), value.get("cluster")) else {
            bail!(
                "{}:{}: every line needs \"id\" and \"cluster\"",
                path.display(),
                n + 1
            );
        };
        let id = match id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let cluster = match cluster {
            serde_json::Value::String(s) => format!("s:{s}"),
            other => format!("v:{other}"),
        };
        if labels.insert(id.clone(), cluster).is_some() {
            bail!(
                "{}:{}: id {id:?} appears more than once",
                path.display(),
                n + 1
            );
        }
        order.push(id);
    }
    Ok((order, labels))
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let (order, truth) = read_labels(&args.truth)?;
    let (_, pred) = read_labels(&args.clusters)?;
    let missing: Vec<&String> = order.iter().filter(|i| !pred.contains_key(*i)).collect();
    let unknown: Vec<&String> = pred.keys().filter(|i| !truth.contains_key(*i)).collect();
    if !missing.is_empty() || !unknown.is_empty() {
        bail!(
            "prediction ids do not match truth ids: {} missing (e.g. {:?}), {} unknown (e.g. {:?})",
            missing.len(),
            missing.iter().take(5).collect::<Vec<_>>(),
            unknown.len(),
            unknown.iter().take(5).collect::<Vec<_>>()
        );
    }
    let s = copydesk::eval::score(&order, &truth, &pred);
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "ARI={:.4} pairP={:.4} pairR={:.4} pairF1={:.4} B3P={:.4} B3R={:.4} B3F1={:.4} clusters={}/{}",
            s.ari, s.pair_precision, s.pair_recall, s.pair_f1, s.b3_precision, s.b3_recall, s.b3_f1,
            s.pred_clusters, s.true_clusters
        );
    }
    Ok(ExitCode::SUCCESS)
}
