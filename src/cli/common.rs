//! What every command shares: input options, loading with `--on-error`, atomic outputs,
//! progress on a terminal.

use anyhow::{bail, Context, Result};
use clap::Args;
use copydesk::doc::{Doc, Origin};
use copydesk::input::{InputConfig, Item, ReadStats, Reader, RecordSpans, Rejected, Utf8Policy};
use copydesk::pipeline::{every_document, Batch, Corpus};
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
        corpus.for_each_batch(&every_document, &mut |batch| {
            docs.extend_from_slice(batch.docs)
        })?;
        Ok(Loaded {
            docs,
            rejected: corpus.scan().rejected,
        })
    }
}

/// The input paths as a corpus that is read once per pass of [`copydesk::pipeline`], so the
/// documents are never all in memory. The first read applies `--on-error`, drops duplicate
/// ids and records every id and what each record was; later reads pass over the records that
/// are not wanted documents without parsing them, yield the same documents and fail if the
/// input changed in between. Stdin is copied to a temporary file first, so it can be read
/// again.
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
    /// By reader record number: the position of the document it gave, or [`NOT_A_DOC`].
    records: Vec<u32>,
    /// Where the records lie, so that later reads seek past the ones they decline.
    spans: std::sync::Arc<RecordSpans>,
}

/// A record that gave no document: rejected, or a duplicate id.
const NOT_A_DOC: u32 = u32::MAX;

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
/// Documents in the first batch of a read.
const FIRST_BATCH_DOCS: usize = 128;
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

    fn for_each_batch(
        &self,
        wanted: &dyn Fn(usize) -> bool,
        batch: &mut dyn FnMut(Batch<'_>),
    ) -> Result<()> {
        let config = self.args.config();
        let fail_utf8 = config.invalid_utf8 == Utf8Policy::Fail;
        let known = self.scan.borrow();
        let mut reader = match known.as_ref() {
            None => Reader::new(&self.paths, config).recording_spans(),
            Some(known) => {
                Reader::new(&self.paths, config).skipping(std::sync::Arc::clone(&known.spans))
            }
        };
        let mut scan = Scan::default();
        let mut seen = Seen::default();
        // A later read parses only the records that gave a wanted document. Records past
        // the first read's are read too, so that an appended document is named.
        let read_record: Vec<bool> = known.as_ref().map_or_else(Vec::new, |known| {
            known
                .records
                .iter()
                .map(|&p| p != NOT_A_DOC && wanted(p as usize))
                .collect()
        });
        let first = known.is_none();
        let progress = if self.spinner {
            Progress::spinner("reading")
        } else {
            Progress(None)
        };
        // A reader thread parses while the caller works on the previous batch; the bounded
        // channel keeps at most two batches in flight.
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(u64, Item)>>(2);
            let reader_ref = &mut reader;
            let read_record = &read_record;
            scope.spawn(move || {
                let mut want =
                    |r: u64| first || read_record.get(r as usize).copied().unwrap_or(true);
                let mut items = Vec::new();
                let mut bytes = 0;
                // The workers wait for the first batch: it is small, and each next one twice as
                // large up to BATCH_DOCS.
                let mut batch_docs = FIRST_BATCH_DOCS;
                while let Some((record, item)) = reader_ref.next_wanted(&mut want) {
                    if let Item::Doc(d) = &item {
                        bytes += d.text.len();
                    }
                    items.push((record, item));
                    if items.len() >= batch_docs || bytes >= BATCH_BYTES {
                        bytes = 0;
                        batch_docs = (batch_docs * 2).min(BATCH_DOCS);
                        if tx.send(std::mem::take(&mut items)).is_err() {
                            return;
                        }
                    }
                }
                let _ = tx.send(items);
            });
            let mut docs: Vec<Doc> = Vec::new();
            let mut positions: Vec<usize> = Vec::new();
            let mut records = 0;
            for items in rx {
                docs.clear();
                positions.clear();
                for (record, item) in items {
                    records = record + 1;
                    let Some(known) = known.as_ref() else {
                        if let Some((position, doc)) =
                            self.first_read(item, fail_utf8, &mut scan, &mut seen)?
                        {
                            if wanted(position) {
                                positions.push(position);
                                docs.push(doc);
                            }
                        }
                        continue;
                    };
                    let position = known.records.get(record as usize).copied();
                    if position == Some(NOT_A_DOC) {
                        // Rejected by the first read (an error that ends a file is read again):
                        // already accounted for.
                        continue;
                    }
                    match (position, item) {
                        (Some(p), Item::Doc(doc))
                            if known.ids.get(p as usize) == Some(doc.id.as_str()) =>
                        {
                            positions.push(p as usize);
                            docs.push(doc);
                        }
                        (_, Item::Doc(doc)) => bail!(
                            "{}: the input changed while copydesk was reading it (document {:?})",
                            self.show(doc.origin.to_string()),
                            doc.id
                        ),
                        (_, Item::Rejected(r)) => bail!(
                            "{}: the input changed while copydesk was reading it ({})",
                            self.show(r.origin.to_string()),
                            r.reason
                        ),
                    }
                }
                if !docs.is_empty() {
                    batch(Batch {
                        docs: &docs,
                        positions: &positions,
                    });
                }
                progress.tick(records as usize);
            }
            Ok(())
        })?;
        progress.finish();
        if let Some(known) = known.as_ref() {
            if reader.records() != known.records.len() as u64 {
                bail!("the input changed while copydesk was reading it (documents are missing)");
            }
            return Ok(());
        }
        drop(known);
        if scan.ids.is_empty() && scan.rejected.is_empty() && self.args.on_error == OnError::Fail {
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
        scan.spans = std::sync::Arc::new(reader.take_spans());
        self.write_rejects(&scan.rejected)?;
        *self.scan.borrow_mut() = Some(scan);
        Ok(())
    }
}

impl FileCorpus<'_> {
    /// Take one item of the first read into `scan`: an accepted document comes back with its
    /// position; a bad record or a duplicate id goes through `--on-error`.
    fn first_read(
        &self,
        item: Item,
        fail_utf8: bool,
        scan: &mut Scan,
        seen: &mut Seen,
    ) -> Result<Option<(usize, Doc)>> {
        let doc = match item {
            Item::Doc(doc) => doc,
            Item::Rejected(r) => {
                scan.records.push(NOT_A_DOC);
                self.reject(r, fail_utf8, scan)?;
                return Ok(None);
            }
        };
        if let Some(at) = seen.first_or_insert(&doc.id, &scan.ids, &doc.origin) {
            let at = self.show(at.to_string());
            let r = Rejected {
                reason: format!("duplicate id {:?} (first at {at})", doc.id),
                origin: doc.origin,
                id: Some(doc.id),
                fatal_for_file: false,
            };
            scan.records.push(NOT_A_DOC);
            self.reject(r, fail_utf8, scan)?;
            return Ok(None);
        }
        let position = scan.ids.len();
        let record = u32::try_from(position)
            .ok()
            .filter(|&p| p != NOT_A_DOC)
            .context("more than 4 billion documents")?;
        scan.records.push(record);
        scan.ids.push(&doc.id);
        Ok(Some((position, doc)))
    }

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
    use proptest::prelude::*;

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

    /// Every document of a read, with its position.
    fn read_all(
        corpus: &FileCorpus,
        wanted: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<(usize, String)>> {
        let mut got = Vec::new();
        corpus.for_each_batch(wanted, &mut |batch| {
            assert_eq!(batch.docs.len(), batch.positions.len());
            for (doc, &p) in batch.docs.iter().zip(batch.positions) {
                got.push((p, format!("{} {:?}", doc.id, doc.text)));
            }
        })?;
        Ok(got)
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
        assert_eq!(read_all(&corpus, &every_document)?.len(), 2);
        // The same file again reads the same documents.
        assert_eq!(read_all(&corpus, &every_document)?.len(), 2);
        // A rewritten record is named; a lost record is reported too.
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"c\",\"text\":\"y\"}\n",
        )?;
        let err = read_all(&corpus, &every_document).expect_err("changed input must fail");
        assert!(err.to_string().contains("input changed"), "{err}");
        assert!(err.to_string().contains("\"c\""), "{err}");
        // A record that is not read is not checked, but a lost one is still noticed.
        assert_eq!(read_all(&corpus, &|p| p == 0)?.len(), 1);
        std::fs::write(&path, "{\"id\":\"a\",\"text\":\"x\"}\n")?;
        let err = read_all(&corpus, &|p| p == 0).expect_err("shortened input must fail");
        assert!(err.to_string().contains("missing"), "{err}");
        // An appended record is named.
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"y\"}\n{\"id\":\"d\",\"text\":\"z\"}\n",
        )?;
        let err = read_all(&corpus, &|p| p == 0).expect_err("longer input must fail");
        assert!(err.to_string().contains("\"d\""), "{err}");
        // A wanted record that no longer reads is an error too.
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":tru}\n",
        )?;
        let err = read_all(&corpus, &every_document).expect_err("broken record must fail");
        assert!(err.to_string().contains("corpus.jsonl:2"), "{err}");
        Ok(())
    }

    /// A line of a test corpus: a document (id from a few, so some repeat), a bad record,
    /// or a line that is no record.
    fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (0u32..30, "[a-z ]{0,8}", any::<bool>()).prop_map(|(id, text, crlf)| {
                let mut line = serde_json::json!({"id": id.to_string(), "text": text})
                    .to_string()
                    .into_bytes();
                if crlf {
                    line.push(b'\r');
                }
                line
            }),
            1 => Just(b"{\"id\": \"bad\", \"text\": tru}".to_vec()),
            1 => Just(b"{\"id\": \"no text\"}".to_vec()),
            1 => Just(b"{\"id\": \"utf8\", \"text\": \"\xff\"}".to_vec()),
            1 => Just(format!("{{\"id\": \"big\", \"text\": \"{}\"}}", "x".repeat(80)).into_bytes()),
            1 => Just(b"  \r".to_vec()),
            1 => Just(Vec::new()),
        ]
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A later read of some positions yields exactly those documents of the first read,
        /// at their positions, however many records around them were rejected.
        #[test]
        fn a_later_read_yields_the_wanted_documents_at_their_positions(
            lines in proptest::collection::vec(line_strategy(), 1..40),
            mask in proptest::collection::vec(any::<bool>(), 1..50),
            gzip in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(if gzip { "c.jsonl.gz" } else { "c.jsonl" });
            let data = lines.join(&b"\n"[..]);
            if gzip {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&data).unwrap();
                std::fs::write(&path, gz.finish().unwrap()).unwrap();
            } else {
                std::fs::write(&path, &data).unwrap();
            }
            let mut args = args(&path);
            args.on_error = OnError::Skip;
            args.max_doc_bytes = 64;
            let corpus = FileCorpus::open(&args).unwrap().without_spinner();
            let wanted = |p: usize| mask[p % mask.len()];
            // The first read hands over the wanted documents too (it reads every record).
            let first = read_all(&corpus, &wanted).unwrap();
            let all = read_all(&corpus, &every_document).unwrap();
            let positions: Vec<usize> = all.iter().map(|(p, _)| *p).collect();
            proptest::prop_assert_eq!(positions, (0..all.len()).collect::<Vec<_>>());
            let expected: Vec<(usize, String)> =
                all.iter().filter(|(p, _)| wanted(*p)).cloned().collect();
            proptest::prop_assert_eq!(&first, &expected);
            proptest::prop_assert_eq!(&read_all(&corpus, &wanted).unwrap(), &expected);
            proptest::prop_assert!(read_all(&corpus, &|_| false).unwrap().is_empty());
        }
    }
}
