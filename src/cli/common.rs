//! What every command shares: input options, loading with `--on-error`, atomic outputs,
//! progress on a terminal.

use anyhow::{bail, Context, Result};
use clap::Args;
use copydesk::doc::Doc;
use copydesk::input::{InputConfig, Item, ReadStats, Reader, Rejected, Utf8Policy};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// What to do with a record that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop at the first bad record with exit status 2.
    Fail,
    /// Go on; list the record in the summary and in `--rejects`.
    Skip,
}

#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Folders (read recursively: .txt and .md), .jsonl / .jsonl.gz files, or - for JSONL on stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// JSONL field holding the document id (missing: FILE:LINE is used).
    #[arg(long, default_value = "id", help_heading = "Input")]
    pub id_field: String,
    /// JSONL field holding the text.
    #[arg(long, default_value = "text", help_heading = "Input")]
    pub text_field: String,
    /// JSONL field naming the site a page belongs to (for cross-page templates).
    #[arg(long, default_value = "site", help_heading = "Input")]
    pub site_field: String,
    /// JSONL field with the page URL; its host is the site when there is no site field.
    #[arg(long, default_value = "url", help_heading = "Input")]
    pub url_field: String,
    /// What to do with a bad record (bad JSON, missing field, unreadable file, duplicate id,
    /// document over --max-doc-bytes) and with an input that holds no documents at all.
    #[arg(long, value_enum, default_value_t = OnError::Fail, help_heading = "Input")]
    pub on_error: OnError,
    /// Invalid UTF-8: replace the bad bytes (the document is kept and counted), skip the
    /// document (listed in --rejects, even under --on-error fail), or stop with exit status 2
    /// [default: follows --on-error].
    #[arg(long, value_enum, help_heading = "Input")]
    pub invalid_utf8: Option<Utf8Policy>,
    /// Reject a document larger than this many bytes (it is never held in memory).
    #[arg(long, default_value_t = 64 << 20, help_heading = "Input")]
    pub max_doc_bytes: usize,
    /// Write every rejected record here as JSONL {"origin", "id", "reason"}.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub rejects: Option<PathBuf>,
}

/// A rejected record, as written to `--rejects` and counted in summaries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectRecord {
    pub origin: String,
    pub id: Option<String>,
    pub reason: String,
}

/// The documents of a run, and everything that was not read as one.
pub struct Loaded {
    pub docs: Vec<Doc>,
    pub rejected: Vec<RejectRecord>,
    pub stats: ReadStats,
}

impl InputArgs {
    pub fn config(&self) -> InputConfig {
        InputConfig {
            id_field: self.id_field.clone(),
            text_field: self.text_field.clone(),
            site_field: self.site_field.clone(),
            url_field: self.url_field.clone(),
            invalid_utf8: self.invalid_utf8.unwrap_or(match self.on_error {
                OnError::Fail => Utf8Policy::Fail,
                OnError::Skip => Utf8Policy::Skip,
            }),
            max_doc_bytes: self.max_doc_bytes,
        }
    }

    /// Read every document, applying `--on-error` to bad records and duplicate ids.
    pub fn load(&self) -> Result<Loaded> {
        let config = self.config();
        let fail_utf8 = config.invalid_utf8 == Utf8Policy::Fail;
        let mut reader = Reader::new(&self.paths, config);
        let mut docs = Vec::new();
        let mut rejected = Vec::new();
        let mut first_seen: HashMap<String, String> = HashMap::new();
        let progress = Progress::spinner("reading");
        for item in reader.by_ref() {
            let bad = match item {
                Item::Doc(doc) => {
                    if let Some(first) = first_seen.get(&doc.id) {
                        Some(Rejected {
                            origin: doc.origin.clone(),
                            id: Some(doc.id.clone()),
                            reason: format!("duplicate id {:?} (first at {first})", doc.id),
                            fatal_for_file: false,
                        })
                    } else {
                        first_seen.insert(doc.id.clone(), doc.origin.to_string());
                        docs.push(doc);
                        progress.tick(docs.len());
                        None
                    }
                }
                Item::Rejected(r) => Some(r),
            };
            if let Some(r) = bad {
                // Invalid UTF-8 follows --invalid-utf8 (whose default follows --on-error), so
                // `--invalid-utf8 skip` lists such documents even under `--on-error fail`.
                let is_utf8 = r.reason.starts_with("invalid UTF-8");
                let stop = if is_utf8 {
                    fail_utf8
                } else {
                    self.on_error == OnError::Fail
                };
                if stop {
                    let hint = if is_utf8 {
                        "hint: --invalid-utf8 replace keeps such documents, --invalid-utf8 skip lists them in --rejects"
                    } else {
                        "hint: --on-error skip goes on and lists bad records in --rejects"
                    };
                    bail!("{}: {}\n{hint}", r.origin, r.reason);
                }
                rejected.push(RejectRecord {
                    origin: r.origin.to_string(),
                    id: r.id,
                    reason: r.reason,
                });
            }
        }
        progress.finish();
        if docs.is_empty() && rejected.is_empty() && self.on_error == OnError::Fail {
            // Nothing at all was read: most often a wrong path or a folder of other file types.
            let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "{}: no documents (an empty file, or a folder without .txt or .md files)\n\
                 hint: --on-error skip accepts an empty input and writes empty outputs",
                paths.join(", ")
            );
        }
        if let Some(path) = &self.rejects {
            let mut out = AtomicOutput::create(path)?;
            for r in &rejected {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
            out.commit()?;
        }
        Ok(Loaded {
            docs,
            rejected,
            stats: reader.stats.clone(),
        })
    }
}

/// An output file written under a temporary name and renamed into place on `commit`, so an
/// interrupted run never leaves a complete-looking result; `-` writes to stdout.
pub struct AtomicOutput {
    inner: BufWriter<Box<dyn Write>>,
    rename: Option<(PathBuf, PathBuf)>,
}

impl AtomicOutput {
    pub fn create(path: &Path) -> Result<AtomicOutput> {
        if path.as_os_str() == "-" {
            return Ok(AtomicOutput {
                inner: BufWriter::with_capacity(1 << 16, Box::new(io::stdout().lock())),
                rename: None,
            });
        }
        // Only a regular file (or a new one) is replaced by rename. A device, FIFO or socket
        // (`-o /dev/null`, a named pipe) is written in place: renaming over it would replace
        // the device with a regular file. A symlink is followed, so the link itself survives.
        let target = match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                return Ok(AtomicOutput {
                    inner: BufWriter::with_capacity(1 << 16, Box::new(file)),
                    rename: None,
                });
            }
            Ok(_) => std::fs::canonicalize(path)
                .with_context(|| format!("cannot resolve {}", path.display()))?,
            Err(_) => path.to_path_buf(),
        };
        let name = target
            .file_name()
            .with_context(|| format!("{}: not a file name", path.display()))?;
        let tmp = target.with_file_name(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(AtomicOutput {
            inner: BufWriter::with_capacity(1 << 16, Box::new(file)),
            rename: Some((tmp, target)),
        })
    }

    /// Flush and move the file into place.
    pub fn commit(mut self) -> Result<()> {
        self.inner.flush()?;
        if let Some((tmp, dest)) = self.rename.take() {
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), dest.display()))?;
        }
        Ok(())
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        // Not committed: remove the partial file.
        if let Some((tmp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// True when the error chain holds a broken pipe (the reader of stdout went away).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Set the worker thread count once (0: one per core).
pub fn init_threads(threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("cannot start worker threads")
}

/// A progress indicator on stderr, shown only when stderr is a terminal.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub fn spinner(what: &str) -> Progress {
        if !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(what.to_owned());
        Progress(Some(bar))
    }

    pub fn bar(what: &str, total: usize) -> Progress {
        if !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Progress(Some(bar))
    }

    pub fn tick(&self, n: usize) {
        if let Some(bar) = &self.0 {
            if n % 1000 == 0 {
                bar.set_position(n as u64);
            }
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
