//! Reading documents: folders of `.txt`/`.md` files, JSONL (optionally gzip) files, stdin.
//!
//! The reader streams: it holds one record at a time, never the corpus. It never decides
//! what to do with a bad record; it yields [`Item::Rejected`] with the place (file, line)
//! and the reason, and the caller applies `--on-error skip|fail`. Every input record
//! therefore comes out exactly once, as a document or as a rejection.
//!
//! Records are numbered in input order ([`Reader::next_wanted`]), so a caller that read the
//! input once can read it again for a few records only: the others are passed over unread
//! (a JSONL line is only searched for its end, a text file is not opened). Given the first
//! read's [`RecordSpans`], a read of a plain JSONL file seeks past a declined record instead.
//!
//! - A folder is read recursively in sorted path order; the id of a file is its path
//!   relative to the folder (with `/`), and its site is the folder it sits in.
//! - A `.jsonl` / `.jsonl.gz` file (or `-`, stdin) holds one JSON object per line. The id
//!   comes from `id_field` (a string or an integer; missing: `FILE:LINE`), the text from
//!   `text_field` (must be a string), the site from `site_field`, else from the host of
//!   `url_field`. Blank lines are skipped.
//! - A leading BOM is dropped; CRLF line endings are read like LF, and a lone CR (old Mac
//!   files, mixed line endings) becomes LF in the text, so every stage sees the same lines
//!   (byte offsets are unchanged).
//! - A record larger than `max_doc_bytes` is rejected without being held in memory.

mod fast_json;

use crate::doc::{Doc, Origin};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What to do with bytes that are not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Utf8Policy {
    /// Replace invalid sequences with U+FFFD and count the document as repaired.
    Replace,
    /// Reject the document (it is listed with the rejects).
    Skip,
    /// Reject the document and stop the run (like `--on-error fail`).
    Fail,
}

/// How to read records.
#[derive(Clone, Debug)]
pub struct InputConfig {
    pub id_field: String,
    pub text_field: String,
    pub site_field: String,
    pub url_field: String,
    pub invalid_utf8: Utf8Policy,
    pub max_doc_bytes: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            id_field: "id".into(),
            text_field: "text".into(),
            site_field: "site".into(),
            url_field: "url".into(),
            invalid_utf8: Utf8Policy::Fail,
            max_doc_bytes: 64 << 20,
        }
    }
}

/// Why a record was not read as a document.
#[derive(Clone, Debug)]
pub struct Rejected {
    pub origin: Origin,
    /// The record's id when it could be read.
    pub id: Option<String>,
    pub reason: String,
    /// True when the whole rest of the file is lost (unreadable, truncated gzip).
    pub fatal_for_file: bool,
}

/// One thing the reader yields.
#[derive(Clone, Debug)]
pub enum Item {
    Doc(Doc),
    Rejected(Rejected),
}

/// Counts the reader keeps while it runs (repairs that did not reject a document).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ReadStats {
    pub files: u64,
    pub utf8_repaired: u64,
    pub nul_bytes_removed: u64,
}

enum Source {
    /// Files of a folder: (path, id, site).
    Files(std::vec::IntoIter<(PathBuf, String, Option<String>)>),
    Jsonl {
        path: PathBuf,
        reader: LineSource,
        line: u64,
        done: bool,
        /// Bytes read from the source so far, and where the last record ended (byte, line):
        /// a record's span runs from there to the end of its own line.
        consumed: u64,
        record_end: (u64, u64),
    },
}

/// The lines of a JSONL source: a plain file can seek past a record, a stream cannot.
enum LineSource {
    File(BufReader<File>),
    Stream(Box<dyn BufRead + Send>),
}

impl LineSource {
    fn lines(&mut self) -> &mut dyn BufRead {
        match self {
            LineSource::File(f) => f,
            LineSource::Stream(s) => s.as_mut(),
        }
    }
}

/// Where each record of a read lies in its plain JSONL file, by record number: the bytes
/// and lines from the end of the record before (blank lines included) to the end of its own
/// line. A later read of the same input seeks past a declined record by its span instead of
/// reading its bytes. Records of other sources (gzip, stdin, text files) have no span.
#[derive(Clone, Debug, Default)]
pub struct RecordSpans {
    spans: Vec<Span>,
    /// By input path: the number of records through the end of its JSONL file, so that a
    /// later read never takes the span of the next file's first record for its own, and the
    /// file's length, so that a file whose length changed is read without seeking (its lines
    /// then show the change).
    ends: Vec<(u64, u64)>,
}

/// (bytes, lines); `NO_SPAN` when the record cannot be skipped by seeking.
type Span = (u32, u32);
const NO_SPAN: Span = (u32::MAX, u32::MAX);

impl RecordSpans {
    /// Note that the file of input path `sources - 1` has `records` records through here and
    /// `bytes` bytes so far.
    fn end(&mut self, sources: usize, records: u64, bytes: u64) {
        let source = sources.saturating_sub(1);
        if self.ends.len() <= source {
            self.ends.resize(source + 1, (0, 0));
        }
        self.ends[source] = (records, bytes);
    }

    /// The span of `record`, when it lies in the JSONL file of input path `source`.
    fn get(&self, source: usize, record: u64) -> Option<Span> {
        if record >= self.ends.get(source).map_or(0, |e| e.0) {
            return None;
        }
        usize::try_from(record)
            .ok()
            .and_then(|r| self.spans.get(r))
            .copied()
            .filter(|s| *s != NO_SPAN)
    }
}

/// A streaming reader over input paths (see the module docs).
pub struct Reader {
    paths: std::vec::IntoIter<PathBuf>,
    current: Option<Source>,
    /// Shared with each record's parse (a clone of the field names per record cost an
    /// allocation each).
    config: std::sync::Arc<InputConfig>,
    pub stats: ReadStats,
    /// Records so far, passed over ones included (see [`Reader::next_wanted`]).
    records: u64,
    /// The spans of the records read so far, when asked for ([`Reader::recording_spans`]).
    spans: Option<RecordSpans>,
    /// An earlier read's spans, to seek past declined records ([`Reader::skipping`]).
    skips: Option<std::sync::Arc<RecordSpans>>,
    /// The input path being read: one more than its index (0 before the first).
    sources: usize,
}

impl Reader {
    pub fn new(paths: &[PathBuf], config: InputConfig) -> Reader {
        Reader {
            paths: Vec::from(paths).into_iter(),
            current: None,
            config: std::sync::Arc::new(config),
            stats: ReadStats::default(),
            records: 0,
            spans: None,
            skips: None,
            sources: 0,
        }
    }

    /// Note every record's span ([`RecordSpans`]), for later reads of the same input.
    pub fn recording_spans(mut self) -> Reader {
        self.spans = Some(RecordSpans::default());
        self
    }

    /// The spans noted so far ([`Reader::recording_spans`]; empty when not asked for).
    pub fn take_spans(&mut self) -> RecordSpans {
        self.spans.take().unwrap_or_default()
    }

    /// Seek past the declined records of a plain JSONL file by the spans of an earlier read of
    /// the same input. A file whose length changed since is read line by line; one changed in
    /// place is caught, as without spans, by the caller's checks of ids and record counts.
    pub fn skipping(mut self, spans: std::sync::Arc<RecordSpans>) -> Reader {
        self.skips = Some(spans);
        self
    }

    /// Note the span of a record that is not a JSONL line of a plain file.
    fn no_span(&mut self) {
        if let Some(spans) = self.spans.as_mut() {
            spans.spans.push(NO_SPAN);
        }
    }

    /// The next item whose record `wanted` accepts, with its record number.
    ///
    /// Every item a full read yields is a record and takes the next number, from 0: a JSONL
    /// line that is not blank, a text file, a path that cannot be read. A record `wanted`
    /// declines takes its number but is passed over unread: of a JSONL line only its end is
    /// found (no UTF-8 check, no JSON parse), a text file is not opened. An error that ends a
    /// file (unreadable path, truncated gzip) is always yielded, even when `wanted` was asked
    /// about it first: the read stops there, so the numbers of later records would shift.
    pub fn next_wanted(&mut self, wanted: &mut dyn FnMut(u64) -> bool) -> Option<(u64, Item)> {
        loop {
            let record = self.records;
            match self.current.as_mut() {
                Some(Source::Files(files)) => match files.next() {
                    Some((path, id, site)) => {
                        self.records += 1;
                        self.no_span();
                        if wanted(record) {
                            return Some((record, self.read_text_file(path, id, site)));
                        }
                    }
                    None => self.current = None,
                },
                Some(Source::Jsonl { .. }) => match self.next_jsonl(wanted) {
                    Some(item) => return Some(item),
                    None => self.current = None,
                },
                None => {
                    let path = self.paths.next()?;
                    self.sources += 1;
                    match self.open_path(path) {
                        Ok(source) => self.current = Some(source),
                        Err(rejected) => {
                            self.records += 1;
                            self.no_span();
                            return Some((record, Item::Rejected(rejected)));
                        }
                    }
                }
            }
        }
    }

    /// Records so far (after the last item: in the whole input), passed over ones included.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn open_path(&mut self, path: PathBuf) -> Result<Source, Rejected> {
        let reject = |reason: String| Rejected {
            origin: Origin {
                path: path.clone(),
                line: None,
            },
            id: None,
            reason,
            fatal_for_file: true,
        };
        if path.as_os_str() == "-" {
            self.stats.files += 1;
            return Ok(Source::Jsonl {
                path,
                reader: LineSource::Stream(Box::new(BufReader::with_capacity(
                    1 << 20,
                    io::stdin(),
                ))),
                line: 0,
                done: false,
                consumed: 0,
                record_end: (0, 0),
            });
        }
        let meta = std::fs::metadata(&path).map_err(|e| reject(format!("cannot read: {e}")))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(&path, &path, &mut files).map_err(|e| reject(format!("cannot list: {e}")))?;
            files.sort();
            let entries = files
                .into_iter()
                .map(|(rel, full)| {
                    let site = Path::new(&rel)
                        .parent()
                        .map(|p| {
                            let p = p.to_string_lossy().replace('\\', "/");
                            if p.is_empty() {
                                path.to_string_lossy().into_owned()
                            } else {
                                format!("{}/{}", path.to_string_lossy(), p)
                            }
                        })
                        .filter(|s| !s.is_empty());
                    (full, rel, site)
                })
                .collect::<Vec<_>>();
            return Ok(Source::Files(entries.into_iter()));
        }
        let name = path.to_string_lossy().to_lowercase();
        if name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") || name.ends_with(".ndjson") {
            let file = File::open(&path).map_err(|e| reject(format!("cannot open: {e}")))?;
            self.stats.files += 1;
            let reader = if name.ends_with(".gz") {
                LineSource::Stream(Box::new(BufReader::with_capacity(
                    1 << 20,
                    flate2::read::MultiGzDecoder::new(file),
                )))
            } else {
                let source = self.sources.saturating_sub(1);
                let same_length =
                    |spans: &RecordSpans| spans.ends.get(source).is_some_and(|e| e.1 == meta.len());
                match &self.skips {
                    Some(spans) if !same_length(spans) => {
                        LineSource::Stream(Box::new(BufReader::with_capacity(1 << 20, file)))
                    }
                    _ => LineSource::File(BufReader::with_capacity(1 << 20, file)),
                }
            };
            return Ok(Source::Jsonl {
                path,
                reader,
                line: 0,
                done: false,
                consumed: 0,
                record_end: (0, 0),
            });
        }
        // A single text file given directly: its id is the path as given.
        let id = path.to_string_lossy().into_owned();
        let site = path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty());
        Ok(Source::Files(vec![(path, id, site)].into_iter()))
    }

    fn read_text_file(&mut self, path: PathBuf, id: String, site: Option<String>) -> Item {
        self.stats.files += 1;
        let origin = Origin {
            path: path.clone(),
            line: None,
        };
        let reject = |reason: String, fatal: bool| {
            Item::Rejected(Rejected {
                origin: origin.clone(),
                id: Some(id.clone()),
                reason,
                fatal_for_file: fatal,
            })
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => return reject(format!("cannot open: {e}"), true),
        };
        let mut bytes = Vec::new();
        let limit = self.config.max_doc_bytes as u64;
        if let Err(e) = file.take(limit + 1).read_to_end(&mut bytes) {
            return reject(format!("cannot read: {e}"), true);
        }
        if bytes.len() as u64 > limit {
            return reject(
                format!(
                    "document larger than --max-doc-bytes ({} bytes)",
                    self.config.max_doc_bytes
                ),
                false,
            );
        }
        match self.decode(bytes, true) {
            Ok(mut text) => {
                lone_cr_to_lf(&mut text);
                Item::Doc(Doc {
                    id,
                    text,
                    site,
                    origin,
                })
            }
            Err(reason) => reject(reason, false),
        }
    }

    /// Bytes to text under the UTF-8 policy; strips a BOM and NUL bytes. `whole_file`: the
    /// bytes are a file of many lines, so an invalid byte's message also names its line.
    fn decode(&mut self, bytes: Vec<u8>, whole_file: bool) -> Result<String, String> {
        let mut text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                match self.config.invalid_utf8 {
                    Utf8Policy::Replace => {
                        self.stats.utf8_repaired += 1;
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    }
                    Utf8Policy::Skip | Utf8Policy::Fail if whole_file => {
                        let line = memchr::memchr_iter(b'\n', &e.as_bytes()[..at]).count() + 1;
                        return Err(format!("invalid UTF-8 at byte {at} (line {line})"));
                    }
                    Utf8Policy::Skip | Utf8Policy::Fail => {
                        return Err(format!("invalid UTF-8 at byte {at}"));
                    }
                }
            }
        };
        if let Some(stripped) = text.strip_prefix('\u{FEFF}') {
            text = stripped.to_owned();
        }
        if memchr::memchr(0, text.as_bytes()).is_some() {
            self.stats.nul_bytes_removed += text.matches('\0').count() as u64;
            text = text.replace('\0', " ");
        }
        Ok(text)
    }

    /// The next record of the current JSONL source that `wanted` accepts (see
    /// [`Reader::next_wanted`]); None at its end.
    fn next_jsonl(&mut self, wanted: &mut dyn FnMut(u64) -> bool) -> Option<(u64, Item)> {
        let Some(Source::Jsonl {
            path,
            reader,
            line,
            done,
            consumed,
            record_end,
        }) = self.current.as_mut()
        else {
            return None;
        };
        let limit = self.config.max_doc_bytes;
        // The answer for the record at hand: blank lines before it must not ask again.
        let mut asked: Option<(u64, bool)> = None;
        let mut ask = |record: u64| match asked {
            Some((r, answer)) if r == record => answer,
            _ => {
                let answer = wanted(record);
                asked = Some((record, answer));
                answer
            }
        };
        loop {
            if *done {
                return None;
            }
            let record = self.records;
            // A declined record with a span is passed over by seeking; a failed seek is a
            // read error, which ends the file as one while reading does.
            let seek = match (&mut *reader, &self.skips) {
                (LineSource::File(file), Some(skips)) => skips
                    .get(self.sources.saturating_sub(1), record)
                    .filter(|_| !ask(record))
                    .map(|(bytes, lines)| file.seek_relative(i64::from(bytes)).map(|()| lines)),
                _ => None,
            };
            if let Some(Ok(lines)) = seek {
                *line += u64::from(lines);
                self.records += 1;
                continue;
            }
            *line += 1;
            let lineno = *line;
            let mut buf = Vec::new();
            let read = match seek {
                Some(Err(e)) => Err(e),
                _ => read_line_bounded(reader.lines(), &mut buf, limit, consumed, &mut || {
                    ask(record)
                }),
            };
            if !matches!(read, Ok(LineRead::Eof | LineRead::Blank)) {
                self.records += 1;
                if let Some(spans) = self.spans.as_mut() {
                    let bytes = u32::try_from(*consumed - record_end.0).ok();
                    let lines = u32::try_from(*line - record_end.1).ok();
                    let seekable = matches!(reader, LineSource::File(_)) && read.is_ok();
                    spans.spans.push(match (bytes, lines) {
                        (Some(b), Some(l)) if seekable && (b, l) != NO_SPAN => (b, l),
                        _ => NO_SPAN,
                    });
                    spans.end(self.sources, self.records, *consumed);
                }
                *record_end = (*consumed, *line);
            }
            let origin = || Origin {
                path: path.clone(),
                line: Some(lineno),
            };
            let item = match read {
                Ok(LineRead::Eof) => {
                    *done = true;
                    if let Some(spans) = self.spans.as_mut() {
                        spans.end(self.sources, self.records, *consumed);
                    }
                    return None;
                }
                Ok(LineRead::Blank | LineRead::Skipped) => continue,
                Ok(LineRead::TooLong) => Item::Rejected(Rejected {
                    origin: origin(),
                    id: None,
                    reason: format!("line longer than --max-doc-bytes ({limit} bytes)"),
                    fatal_for_file: false,
                }),
                Ok(LineRead::Line) => {
                    let origin = origin();
                    self.parse_record(buf, origin)
                }
                Err(e) => {
                    *done = true;
                    Item::Rejected(Rejected {
                        origin: origin(),
                        id: None,
                        reason: format!("cannot read (file truncated or corrupt?): {e}"),
                        fatal_for_file: true,
                    })
                }
            };
            return Some((record, item));
        }
    }

    /// One JSONL record; a record without an id is named by its origin (`FILE:LINE`).
    fn parse_record(&mut self, buf: Vec<u8>, origin: Origin) -> Item {
        let config = std::sync::Arc::clone(&self.config);
        let config = config.as_ref();
        let reject = |id: Option<String>, reason: String| {
            Item::Rejected(Rejected {
                origin: origin.clone(),
                id,
                reason,
                fatal_for_file: false,
            })
        };
        let text = match self.decode(buf, false) {
            Ok(t) => t,
            Err(reason) => return reject(None, reason),
        };
        let fields = match fast_json::record(&text, config) {
            Some(f) => f,
            None => match serde_record(&text, config) {
                Ok(f) => f,
                Err(e) => return reject(None, format!("not a JSON object: {}", json_error(&e))),
            },
        };
        let id = match fields.id {
            None | Some(serde_json::Value::Null) => origin.to_string(),
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            Some(_) => {
                return reject(
                    None,
                    format!(
                        "field \"{}\" is not a string or an integer",
                        config.id_field
                    ),
                )
            }
        };
        let body = match fields.text {
            None => {
                return reject(
                    Some(id),
                    format!("missing text field \"{}\"", config.text_field),
                )
            }
            Some(serde_json::Value::String(s)) => s,
            Some(_) => {
                return reject(
                    Some(id),
                    format!("field \"{}\" is not a string", config.text_field),
                )
            }
        };
        let mut body = if memchr::memchr(0, body.as_bytes()).is_some() {
            self.stats.nul_bytes_removed += body.matches('\0').count() as u64;
            body.replace('\0', " ")
        } else {
            body
        };
        lone_cr_to_lf(&mut body);
        let string_field = |value: Option<serde_json::Value>| match value {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let site = string_field(fields.site)
            .or_else(|| string_field(fields.url).and_then(|u| url_host(&u)));
        Item::Doc(Doc {
            id,
            text: body,
            site,
            origin,
        })
    }
}

impl Iterator for Reader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.next_wanted(&mut |_| true).map(|(_, item)| item)
    }
}

/// The fields of a record the reader uses (the last of a repeated key wins).
#[derive(Debug, Default, PartialEq)]
struct Record {
    id: Option<serde_json::Value>,
    text: Option<serde_json::Value>,
    site: Option<serde_json::Value>,
    url: Option<serde_json::Value>,
}

/// Which of a record's fields (id, text, site, url) a key names; one key may name several.
fn roles(config: &InputConfig, key: &str) -> [bool; 4] {
    [
        &config.id_field,
        &config.text_field,
        &config.site_field,
        &config.url_field,
    ]
    .map(|name| *name == key)
}

impl Record {
    /// Give `value` to the fields its key names (`roles`).
    fn set(&mut self, roles: [bool; 4], value: serde_json::Value) {
        let Some(last) = roles.iter().rposition(|is| *is) else {
            return;
        };
        let slots = [&mut self.id, &mut self.text, &mut self.site, &mut self.url];
        // One field can serve two roles (say, `--id-field text`): clone for all but the last.
        let mut value = Some(value);
        for (role, slot) in slots.into_iter().enumerate() {
            if role == last {
                *slot = value.take();
                break;
            }
            if roles[role] {
                *slot = value.clone();
            }
        }
    }
}

/// The record in a JSONL line, read by serde_json (what [`fast_json::record`] declines).
fn serde_record(text: &str, config: &InputConfig) -> serde_json::Result<Record> {
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = RecordSeed(config).deserialize(&mut de)?;
    de.end()?;
    Ok(fields)
}

/// Reads a [`Record`] in one pass over the line, skipping the other fields' values unbuilt
/// (a map of raw values read the text twice: once to find its end, once to unescape it).
struct RecordSeed<'c>(&'c InputConfig);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let config = self.0;
        let mut record = Record::default();
        while let Some(key) = map.next_key::<String>()? {
            let roles = roles(config, &key);
            if roles.iter().any(|r| *r) {
                record.set(roles, map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(record)
    }
}

/// A serde_json error without its "at line 1" (a record is one line; the caller names the
/// file's line): "EOF while parsing a string at column 41".
fn json_error(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&position) {
        Some(message) => format!("{message} at column {}", e.column()),
        None => full,
    }
}

/// Replace every CR that is not part of a CRLF with LF: `str::lines` (and so every
/// line-based stage) splits on LF and CRLF only. One byte for one byte, so offsets into
/// the text stay those of the original.
fn lone_cr_to_lf(text: &mut String) {
    // memchr's vector search: `str::contains` scanned a word at a time, 2% of a dedup run.
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    *text = out;
}

/// The host of a URL (`https://www.example.com/a` gives `example.com`), if it has one.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest
        .split(['/', '?', '#'])
        .next()?
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else {
            let lower = path.to_string_lossy().to_lowercase();
            if lower.ends_with(".txt") || lower.ends_with(".md") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, path));
            }
        }
    }
    Ok(())
}

enum LineRead {
    /// A record, in the buffer.
    Line,
    /// A record over the limit (not stored).
    TooLong,
    /// A record the caller does not want (not stored).
    Skipped,
    /// Only ASCII whitespace: not a record.
    Blank,
    Eof,
}

/// Read one line. A line of ASCII whitespace alone is blank, unless it is longer than
/// `limit`; any other line is a record, and `wanted` is asked once about it. A wanted record
/// goes to `buf` without its `\n` or `\r\n`, keeping at most `limit` bytes: a longer line is
/// consumed to its end but not stored. A declined one is consumed by searching for its end
/// alone, as soon as its first byte that is not whitespace shows it is a record.
fn read_line_bounded(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
    consumed: &mut u64,
    wanted: &mut dyn FnMut() -> bool,
) -> io::Result<LineRead> {
    // None while the line is all whitespace; then whether the caller wants it.
    let mut keep: Option<bool> = None;
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, found) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i)),
            None => (available, None),
        };
        if keep.is_none() && !chunk.iter().all(u8::is_ascii_whitespace) {
            keep = Some(wanted());
        }
        // Leading whitespace is stored too: it counts towards the limit, and error columns
        // stay those of the line.
        if keep != Some(false) && !too_long {
            if buf.len() + chunk.len() > limit {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = found.map(|i| i + 1).unwrap_or(available.len());
        reader.consume(used);
        *consumed += used as u64;
        if found.is_some() {
            break;
        }
    }
    if !any {
        return Ok(LineRead::Eof);
    }
    let keep = match keep {
        None if !too_long => return Ok(LineRead::Blank),
        // Whitespace over the limit: a record, rejected as too long.
        None => wanted(),
        Some(keep) => keep,
    };
    if !keep {
        buf.clear();
        return Ok(LineRead::Skipped);
    }
    if too_long {
        return Ok(LineRead::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(LineRead::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("https://www.Example.com/a/b?c").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            url_host("http://user@news.site.org:8080/x").as_deref(),
            Some("news.site.org")
        );
        assert_eq!(url_host("").as_deref(), None);
    }

    #[test]
    fn lone_carriage_returns_become_line_feeds() {
        let mut t = String::from("a\rb\r\nc\n\rd\r");
        lone_cr_to_lf(&mut t);
        assert_eq!(t, "a\nb\r\nc\n\nd\n");
        assert_eq!(t.len(), "a\rb\r\nc\n\rd\r".len(), "offsets unchanged");
    }

    #[test]
    fn json_errors_name_the_column_not_line_1() {
        let e = serde_json::from_str::<serde_json::Value>("{\"a\": tru}").unwrap_err();
        let message = json_error(&e);
        assert!(
            message.ends_with(&format!("at column {}", e.column())),
            "{message}"
        );
        assert!(!message.contains("line"), "{message}");
    }

    fn record(line: &str, config: &InputConfig) -> serde_json::Result<Record> {
        let mut de = serde_json::Deserializer::from_str(line);
        RecordSeed(config).deserialize(&mut de)
    }

    #[test]
    fn records_keep_the_last_repeated_key_and_fields_in_two_roles() {
        let config = InputConfig {
            id_field: "text".into(),
            ..InputConfig::default()
        };
        let line =
            r#"{"text": "first", "x": [1, {"y": null}], "text": "last", "url": "http://a.b/c"}"#;
        let r = record(line, &config).unwrap();
        let last = Some(serde_json::Value::String("last".into()));
        assert_eq!((r.id, r.text), (last.clone(), last));
        assert_eq!(
            r.url,
            Some(serde_json::Value::String("http://a.b/c".into()))
        );
        assert!(r.site.is_none());
        assert!(record("[1]", &config).is_err());
        assert!(
            record(r#"{"x": tru}"#, &config).is_err(),
            "skipped values are still checked"
        );
    }

    #[test]
    fn bounded_lines() {
        let data = b"short\r\nthis line is too long\n  \r\n\t skipped\n           \nok";
        let mut reader = io::BufReader::with_capacity(4, &data[..]);
        let mut asked = 0;
        let mut next = |want: bool, buf: &mut Vec<u8>| {
            buf.clear();
            let mut wanted = || {
                asked += 1;
                want
            };
            read_line_bounded(&mut reader, buf, 10, &mut 0, &mut wanted).unwrap()
        };
        let mut buf = Vec::new();
        assert!(matches!(next(true, &mut buf), LineRead::Line));
        assert_eq!(buf, b"short");
        assert!(matches!(next(true, &mut buf), LineRead::TooLong));
        assert!(matches!(next(true, &mut buf), LineRead::Blank));
        assert!(matches!(next(false, &mut buf), LineRead::Skipped));
        assert!(buf.is_empty(), "a declined line is not stored");
        // Whitespace over the limit is a record (too long), not a blank line.
        assert!(matches!(next(true, &mut buf), LineRead::TooLong));
        assert!(matches!(next(true, &mut buf), LineRead::Line));
        assert_eq!(buf, b"ok");
        assert!(matches!(next(true, &mut buf), LineRead::Eof));
        assert_eq!(asked, 5, "asked once per record, never about a blank line");
    }

    /// What an item says, to compare two reads.
    fn summary(item: &Item) -> String {
        match item {
            Item::Doc(d) => format!("doc {} {} {:?} {:?}", d.origin, d.id, d.text, d.site),
            Item::Rejected(r) => format!("rejected {} {:?} {}", r.origin, r.id, r.reason),
        }
    }

    fn read(reader: &mut Reader, wanted: &mut dyn FnMut(u64) -> bool) -> Vec<(u64, String)> {
        std::iter::from_fn(|| reader.next_wanted(wanted))
            .map(|(record, item)| (record, summary(&item)))
            .collect()
    }

    /// One line of a test input: a document, a bad record, or a line that is no record.
    fn line_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u32..6, "[a-z \\r]{0,12}").prop_map(|(id, text)| {
                serde_json::json!({"id": id.to_string(), "text": text}).to_string().into_bytes()
            }),
            1 => Just(b"{\"id\": \"x\", \"text\": tru}".to_vec()),
            1 => Just(b"{\"id\": \"y\"}".to_vec()),
            1 => Just(b"{\"id\": \"z\", \"text\": \"bad \xff byte\"}".to_vec()),
            1 => Just(b"{\"text\": \"no id\"}\r".to_vec()),
            1 => Just(vec![b' '; 70]),
            1 => Just(format!("{{\"text\": \"{}\"}}", "long ".repeat(20)).into_bytes()),
            1 => Just(b" \t\r".to_vec()),
            1 => Just(Vec::new()),
        ]
    }

    proptest::proptest! {
        /// A read that declines records yields exactly the full read's items of the records
        /// it wants, under the same numbers, and counts the same records.
        #[test]
        fn a_read_of_some_records_yields_those_of_a_full_read(
            lines in proptest::collection::vec(line_strategy(), 0..40),
            mask in proptest::collection::vec(proptest::bool::ANY, 40),
            gzip in proptest::bool::ANY,
            utf8 in proptest::sample::select(vec![Utf8Policy::Skip, Utf8Policy::Replace]),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut data = lines.join(&b"\n"[..]);
            if data.len() % 3 == 0 {
                data.push(b'\n');
            }
            let path = if gzip {
                let path = dir.path().join("input.jsonl.gz");
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                io::Write::write_all(&mut gz, &data).unwrap();
                std::fs::write(&path, gz.finish().unwrap()).unwrap();
                path
            } else {
                let path = dir.path().join("input.jsonl");
                std::fs::write(&path, &data).unwrap();
                path
            };
            let config = InputConfig {
                invalid_utf8: utf8,
                max_doc_bytes: 64,
                ..InputConfig::default()
            };
            // A second, plain file after it: record numbers run on across files.
            let second = dir.path().join("second.jsonl");
            std::fs::write(&second, &data[..data.len() / 2]).unwrap();
            let paths = [path, second];
            let mut full = Reader::new(&paths, config.clone()).recording_spans();
            let all = read(&mut full, &mut |_| true);
            let spans = std::sync::Arc::new(full.take_spans());
            let expected: Vec<(u64, String)> = all
                .iter()
                .filter(|(r, _)| mask[*r as usize % mask.len()])
                .cloned()
                .collect();
            // Declined records passed over by reading their lines, and by seeking past their
            // spans (a plain file; gzip has none and is read as without them).
            for reader in [
                Reader::new(&paths, config.clone()),
                Reader::new(&paths, config.clone()).skipping(spans.clone()),
            ] {
                let mut some = reader;
                let mut asked = Vec::new();
                let got = read(&mut some, &mut |r| {
                    asked.push(r);
                    mask[r as usize % mask.len()]
                });
                proptest::prop_assert_eq!(&got, &expected);
                proptest::prop_assert_eq!(some.records(), full.records());
                proptest::prop_assert_eq!(asked, (0..full.records()).collect::<Vec<_>>());
            }
            proptest::prop_assert_eq!(spans.spans.len() as u64, full.records());
            if !gzip {
                proptest::prop_assert!(spans.spans.iter().all(|s| *s != NO_SPAN));
            }
            let numbers: Vec<u64> = all.iter().map(|(r, _)| *r).collect();
            proptest::prop_assert_eq!(numbers, (0..full.records()).collect::<Vec<_>>());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_declined_text_file_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "first").unwrap();
        // A file that cannot be opened: only reading it fails.
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("b.txt")).unwrap();
        std::fs::write(dir.path().join("c.md"), "third").unwrap();
        let config = InputConfig::default();
        let paths = [dir.path().to_path_buf()];
        let mut full = Reader::new(&paths, config.clone());
        let all = read(&mut full, &mut |_| true);
        assert_eq!(all.len(), 3);
        assert!(all[1].1.contains("cannot open"), "{all:?}");
        let mut some = Reader::new(&paths, config);
        let got = read(&mut some, &mut |r| r != 1);
        assert_eq!(some.records(), full.records());
        assert_eq!(got, vec![all[0].clone(), all[2].clone()]);
        assert_eq!(some.stats.files, 2, "the declined file is not read");
    }
}
