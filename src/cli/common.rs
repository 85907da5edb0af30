//! What every command shares: input options, loading with `--on-error`, atomic outputs,
//! progress on a terminal.

use anyhow::{bail, Context, Result};
use clap::Args;
use copydesk::doc::{Doc, Origin};
use copydesk::input::{InputConfig, Item, ReadStats, Reader, Rejected, Utf8Policy};
use copydesk::pipeline::Corpus;
use std::cell::RefCell;
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
        let corpus = FileCorpus::open(self)?;
        let mut docs = Vec::new();
        corpus.for_each_batch(&mut |batch| docs.extend_from_slice(batch))?;
        Ok(Loaded {
            docs,
            rejected: corpus.scan().rejected,
        })
    }
}

/// The input paths as a corpus that is read once per pass of [`copydesk::pipeline`], so the
/// documents are never all in memory. The first read applies `--on-error`, drops duplicate
/// ids and records every id; later reads yield the same documents and fail if the input
/// changed in between. Stdin is copied to a temporary file first, so it can be read again.
pub struct FileCorpus<'a> {
    args: &'a InputArgs,
    paths: Vec<PathBuf>,
    spool: Option<tempfile::TempPath>,
    scan: RefCell<Option<Scan>>,
    /// Show a "reading" spinner (off when the caller reports progress itself).
    spinner: bool,
}

/// What the first read of a [`FileCorpus`] found.
#[derive(Default)]
pub struct Scan {
    /// Ids of the documents, in corpus order.
    pub ids: Ids,
    pub rejected: Vec<RejectRecord>,
    pub stats: ReadStats,
    /// By reader document number: was it kept (false: a duplicate id)?
    accepted: Vec<bool>,
}

/// Document ids packed in one string (a `String` per id would cost 24 bytes more each).
#[derive(Default)]
pub struct Ids {
    text: String,
    ends: Vec<usize>,
}

impl Ids {
    pub fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// Ids seen so far, by their xxh3 hash: a duplicate is confirmed against the stored id, so a
/// hash collision is never taken for a duplicate. Keeps where each id was first seen.
#[derive(Default)]
struct Seen {
    by_hash: ahash::AHashMap<u64, u32>,
    /// Ids whose hash another id already holds (practically never used).
    collided: HashMap<String, u32>,
    /// (path number, line or `u64::MAX`) of every kept document.
    origins: Vec<(u32, u64)>,
    paths: Vec<PathBuf>,
}

impl Seen {
    /// Where `id` was first seen, if it was; otherwise remember it as the next document of `ids`.
    fn first_or_insert(&mut self, id: &str, ids: &Ids, origin: &Origin) -> Option<Origin> {
        let next = ids.len() as u32;
        let first = match self
            .by_hash
            .entry(copydesk::shingle::hash_bytes(id.as_bytes()))
        {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(next);
                None
            }
            std::collections::hash_map::Entry::Occupied(slot) => {
                if ids.get(*slot.get() as usize) == Some(id) {
                    Some(*slot.get())
                } else {
                    let at = *self.collided.entry(id.to_owned()).or_insert(next);
                    (at != next).then_some(at)
                }
            }
        };
        if let Some(first) = first {
            let (path, line) = self.origins[first as usize];
            return Some(Origin {
                path: self.paths[path as usize].clone(),
                line: (line != u64::MAX).then_some(line),
            });
        }
        if self.paths.last() != Some(&origin.path) {
            self.paths.push(origin.path.clone());
        }
        let line = origin.line.unwrap_or(u64::MAX);
        self.origins.push(((self.paths.len() - 1) as u32, line));
        None
    }
}

/// Documents handed over per batch (fewer when their texts pass `BATCH_BYTES`).
const BATCH_DOCS: usize = 4096;
const BATCH_BYTES: usize = 16 << 20;

impl<'a> FileCorpus<'a> {
    pub fn open(args: &'a InputArgs) -> Result<FileCorpus<'a>> {
        let mut spool = None;
        let mut paths = args.paths.clone();
        if paths.iter().any(|p| p.as_os_str() == "-") {
            let mut file = tempfile::Builder::new()
                .prefix("copydesk-stdin-")
                .suffix(".jsonl")
                .tempfile()
                .context("cannot create a temporary file for stdin")?;
            io::copy(&mut io::stdin().lock(), &mut file).context("cannot read stdin")?;
            let path = file.into_temp_path();
            for p in paths.iter_mut().filter(|p| p.as_os_str() == "-") {
                *p = path.to_path_buf();
            }
            spool = Some(path);
        }
        Ok(FileCorpus {
            args,
            paths,
            spool,
            scan: RefCell::new(None),
            spinner: true,
        })
    }

    /// No spinner of its own: the caller shows progress.
    pub fn without_spinner(mut self) -> Self {
        self.spinner = false;
        self
    }

    /// The first read's findings (after the corpus has been read once).
    pub fn scan(&self) -> Scan {
        self.scan.borrow_mut().take().unwrap_or_default()
    }

    /// Name stdin `-` again in messages about the spooled copy.
    fn show(&self, origin: String) -> String {
        match &self.spool {
            Some(path) => origin.replace(&path.to_string_lossy().into_owned(), "-"),
            None => origin,
        }
    }

    fn write_rejects(&self, rejected: &[RejectRecord]) -> Result<()> {
        if let Some(path) = &self.args.rejects {
            let mut out = AtomicOutput::create(path)?;
            for r in rejected {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
            out.commit()?;
        }
        Ok(())
    }
}

impl copydesk::pipeline::Corpus for FileCorpus<'_> {
    type Error = anyhow::Error;

    fn for_each_batch(&self, batch: &mut dyn FnMut(&[Doc])) -> Result<()> {
        let first = self.scan.borrow().is_none();
        let config = self.args.config();
        let fail_utf8 = config.invalid_utf8 == Utf8Policy::Fail;
        let mut reader = Reader::new(&self.paths, config);
        let mut scan = Scan::default();
        let mut seen = Seen::default();
        let known = self.scan.borrow();
        let mut ordinal = 0usize;
        let mut position = 0usize;
        let progress = if self.spinner {
            Progress::spinner("reading")
        } else {
            Progress(None)
        };
        // A reader thread parses while the caller works on the previous batch; the bounded
        // channel keeps at most two batches in flight.
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(2);
            let reader_ref = &mut reader;
            scope.spawn(move || {
                let mut items = Vec::new();
                let mut bytes = 0;
                for item in reader_ref.by_ref() {
                    if let Item::Doc(d) = &item {
                        bytes += d.text.len();
                    }
                    items.push(item);
                    if items.len() >= BATCH_DOCS || bytes >= BATCH_BYTES {
                        bytes = 0;
                        if tx.send(std::mem::take(&mut items)).is_err() {
                            return;
                        }
                    }
                }
                let _ = tx.send(items);
            });
            let mut docs: Vec<Doc> = Vec::new();
            for items in rx {
                docs.clear();
                for item in items {
                    match item {
                        Item::Doc(doc) if first => {
                            if let Some(at) = seen.first_or_insert(&doc.id, &scan.ids, &doc.origin)
                            {
                                let at = self.show(at.to_string());
                                let r = Rejected {
                                    reason: format!("duplicate id {:?} (first at {at})", doc.id),
                                    origin: doc.origin.clone(),
                                    id: Some(doc.id.clone()),
                                    fatal_for_file: false,
                                };
                                scan.accepted.push(false);
                                self.reject(r, fail_utf8, &mut scan)?;
                            } else {
                                scan.accepted.push(true);
                                scan.ids.push(&doc.id);
                                docs.push(doc);
                            }
                        }
                        Item::Doc(doc) => {
                            let Some(scan) = known.as_ref() else { break };
                            let accepted = scan.accepted.get(ordinal).copied();
                            ordinal += 1;
                            match accepted {
                                Some(false) => continue,
                                Some(true) if scan.ids.get(position) == Some(doc.id.as_str()) => {
                                    position += 1;
                                    docs.push(doc);
                                }
                                _ => bail!(
                                    "{}: the input changed while copydesk was reading it (document {:?})",
                                    self.show(doc.origin.to_string()),
                                    doc.id
                                ),
                            }
                        }
                        Item::Rejected(r) if first => self.reject(r, fail_utf8, &mut scan)?,
                        // Already accounted for by the first read.
                        Item::Rejected(_) => {}
                    }
                }
                batch(&docs);
                progress.tick(position.max(scan.ids.len()));
            }
            Ok(())
        })?;
        progress.finish();
        if first {
            drop(known);
            if scan.ids.is_empty()
                && scan.rejected.is_empty()
                && self.args.on_error == OnError::Fail
            {
                // Nothing at all was read: most often a wrong path or a folder of other file types.
                let paths: Vec<String> = self
                    .args
                    .paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                bail!(
                    "{}: no documents (an empty file, or a folder without .txt or .md files)\n\
                     hint: --on-error skip accepts an empty input and writes empty outputs",
                    paths.join(", ")
                );
            }
            scan.stats = reader.stats.clone();
            self.write_rejects(&scan.rejected)?;
            *self.scan.borrow_mut() = Some(scan);
        } else if known.as_ref().is_some_and(|s| s.ids.len() != position) {
            bail!("the input changed while copydesk was reading it (documents are missing)");
        }
        Ok(())
    }
}

impl FileCorpus<'_> {
    /// Apply `--on-error` to one bad record of the first read.
    fn reject(&self, r: Rejected, fail_utf8: bool, scan: &mut Scan) -> Result<()> {
        let origin = self.show(r.origin.to_string());
        // Invalid UTF-8 follows --invalid-utf8 (whose default follows --on-error), so
        // `--invalid-utf8 skip` lists such documents even under `--on-error fail`.
        let is_utf8 = r.reason.starts_with("invalid UTF-8");
        let stop = if is_utf8 {
            fail_utf8
        } else {
            self.args.on_error == OnError::Fail
        };
        if stop {
            let hint = if is_utf8 {
                "hint: --invalid-utf8 replace keeps such documents, --invalid-utf8 skip lists them in --rejects"
            } else {
                "hint: --on-error skip goes on and lists bad records in --rejects"
            };
            bail!("{origin}: {}\n{hint}", r.reason);
        }
        scan.rejected.push(RejectRecord {
            origin,
            id: r.id,
            reason: r.reason,
        });
        Ok(())
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

    /// Show the current stage and how many documents it has done.
    pub fn message(&self, stage: &str, done: usize) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("{stage}: {done} documents"));
            bar.tick();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(path: &Path) -> InputArgs {
        InputArgs {
            paths: vec![path.to_path_buf()],
            id_field: "id".into(),
            text_field: "text".into(),
            site_field: "site".into(),
            url_field: "url".into(),
            on_error: OnError::Fail,
            invalid_utf8: None,
            max_doc_bytes: 1 << 20,
            rejects: None,
        }
    }

    #[test]
    fn an_input_changed_between_passes_stops_the_run() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("corpus.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n",
        )?;
        let args = args(&path);
        let corpus = FileCorpus::open(&args)?.without_spinner();
        let mut seen = 0;
        corpus.for_each_batch(&mut |docs| seen += docs.len())?;
        assert_eq!(seen, 2);
        // The same file again reads the same documents.
        corpus.for_each_batch(&mut |_| {})?;
        // A rewritten record is named; a lost record is reported too.
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"c\",\"text\":\"y\"}\n",
        )?;
        let err = corpus
            .for_each_batch(&mut |_| {})
            .expect_err("changed input must fail");
        assert!(err.to_string().contains("input changed"), "{err}");
        assert!(err.to_string().contains("\"c\""), "{err}");
        std::fs::write(&path, "{\"id\":\"a\",\"text\":\"x\"}\n")?;
        let err = corpus
            .for_each_batch(&mut |_| {})
            .expect_err("shortened input must fail");
        assert!(err.to_string().contains("missing"), "{err}");
        Ok(())
    }
}
