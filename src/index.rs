//! A persistent index of document sketches and ids (never texts), for incremental runs and CI
//! checks: `copydesk index add` stores batches, `dedup --against` compares new documents with
//! everything stored.
//!
//! # Storage
//! One SQLite database file (plus its `-wal` and `-shm` companions while in use), in WAL mode:
//! any number of processes may read at once, and readers never wait for the writer. There is
//! one writer at a time; a second writer waits up to a short busy timeout and then gets
//! [`Error::Locked`](crate::Error::Locked).
//!
//! ```sql
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
//! CREATE TABLE batches (id INTEGER PRIMARY KEY, added_at INTEGER NOT NULL,
//!                       added INTEGER NOT NULL, replaced INTEGER NOT NULL);
//! CREATE TABLE documents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
//!                         batch INTEGER NOT NULL REFERENCES batches(id), sketch BLOB NOT NULL);
//! ```
//! `meta` holds `format` ([`FORMAT`]), `format_version` ([`FORMAT_VERSION`]), `hash`
//! ([`HASH`]) and `parameters` (the JSON of [`Parameters`]). `documents.seq` is the insertion
//! order, which is the input order of stored documents for clustering; `--replace` rewrites a
//! document's sketch and batch in place, keeping its position.
//!
//! # Guarantees
//! - One batch is one transaction: after a crash or a kill the index holds the batch whole or
//!   not at all (SQLite's WAL with `synchronous=FULL`).
//! - Every batch and query must use the parameters the index was built with, compared field by
//!   field; a difference is refused with the name of the parameter.
//! - Adding an id that is already stored is refused, naming the id, unless `replace` is set.
//!
//! # Sketch byte format (version 1)
//! All integers are unsigned LEB128 varints unless said otherwise; `u32le`/`u64le` are
//! little-endian fixed-width.
//! ```text
//! chars            varint          length of the cleaned text in characters
//! set_len          varint          n, number of distinct shingle hashes
//! set              n varints       sorted hashes, delta-encoded (first absolute, then gaps)
//! sequence_len     varint          m, shingles in text order (with repeats)
//! sequence         m varints       each shingle as its position in `set`
//! signature_len    varint          k
//! signature        k u32le         MinHash signature (empty with --method simhash)
//! lede_len         varint          l
//! lede_signature   l u32le         lede-window MinHash signature
//! simhash          u64le           SimHash (0 with --method minhash)
//! ```
//! The blob must be consumed exactly; anything else is reported as a corrupt sketch.

use crate::dedup::{DedupConfig, Sketch};
use crate::error::{Error, Result};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `meta.format` says in every copydesk index.
pub const FORMAT: &str = "copydesk-index";
/// Version of the schema and the sketch byte format.
pub const FORMAT_VERSION: u32 = 1;
/// The hash every stored shingle was made with; another hash makes sketches incomparable.
pub const HASH: &str = "xxh3-64 seed 0x636f70796465736b";
/// SQLite page size of a new index.
const PAGE_SIZE: i64 = 65536;
/// How long a writer waits for another writer before giving up, unless told otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything that decides what a sketch is and how sketches cluster: fixed when the index is
/// created, compared on every batch and query.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub config: DedupConfig,
    /// Boilerplate lines were stripped before sketching.
    pub clean: bool,
}

/// One document to store.
pub struct Entry<'a> {
    pub id: &'a str,
    pub sketch: &'a Sketch,
}

/// What a batch did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub batch: i64,
    /// Documents new to the index.
    pub added: u64,
    /// Stored documents whose sketch was rewritten (`replace`).
    pub replaced: u64,
    /// Documents in the index after the batch.
    pub documents: u64,
}

/// What `index stats` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub documents: u64,
    pub batches: u64,
    /// Stored parameters (None for an index no batch was ever committed to).
    pub parameters: Option<Value>,
    pub format_version: Option<u32>,
    pub hash: Option<String>,
    /// Bytes of the sketches alone.
    pub sketch_bytes: u64,
    /// The database file plus its write-ahead log, as found on disk.
    pub file_bytes: u64,
}

/// Stored documents in insertion order, ready to cluster.
#[derive(Debug, Default)]
pub struct Stored {
    pub ids: Vec<String>,
    pub sketches: Vec<Sketch>,
}

/// An open index. Readers and the writer are separate processes or connections.
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

fn describe(path: &Path, err: rusqlite::Error) -> Error {
    let shown = path.display();
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            Error::Locked(path.to_path_buf())
        }
        Some(ErrorCode::NotADatabase) => Error::Index(format!(
            "{shown}: not a copydesk index (not an SQLite database)"
        )),
        _ => Error::Index(format!("{shown}: {err}")),
    }
}

impl Index {
    /// Open an existing index for reading. Any number of readers may be open at once, also
    /// while a writer is adding a batch (they see the index as before that batch).
    pub fn open(path: &Path) -> Result<Index> {
        if !path.is_file() {
            return Err(Error::Index(format!(
                "{}: no such index (create one with `copydesk index add`)",
                path.display()
            )));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| describe(path, e))?;
        // Readers can meet a short lock while a checkpoint or WAL recovery runs.
        conn.busy_timeout(DEFAULT_LOCK_TIMEOUT)
            .map_err(|e| describe(path, e))?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
        };
        index.check_format()?;
        Ok(index)
    }

    /// Open an index for writing, creating the file when missing. `lock_timeout` is how long
    /// a batch waits for another writer before failing with [`Error::Locked`].
    pub fn open_for_write(path: &Path, lock_timeout: Duration) -> Result<Index> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| describe(path, e))?;
        conn.busy_timeout(lock_timeout)
            .map_err(|e| describe(path, e))?;
        let index = Index {
            conn,
            path: path.to_path_buf(),
        };
        // Before any setting is written: a foreign database is refused untouched.
        index.check_format()?;
        let conn = &index.conn;
        // Large pages keep a whole sketch (a few KiB) in its page instead of spilling it to
        // overflow pages: about 15% smaller files and faster scans. Only takes effect when the
        // file is new.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(|e| index.err(e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| index.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Index(format!(
                "{}: cannot switch to WAL mode (got {mode}); is it on a network file system?",
                path.display()
            )));
        }
        // FULL: a committed batch survives power loss too, at one fsync per batch.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| index.err(e))?;
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, err: rusqlite::Error) -> Error {
        describe(&self.path, err)
    }

    fn has_meta(&self) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        if !self.has_meta()? {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Refuse a database that is not a copydesk index of this format version. An empty
    /// database (created, but no batch ever committed) is a valid empty index.
    fn check_format(&self) -> Result<()> {
        let shown = self.path.display();
        if !self.has_meta()? {
            let tables: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if tables > 0 {
                return Err(Error::Index(format!(
                    "{shown}: an SQLite database, but not a copydesk index"
                )));
            }
            return Ok(());
        }
        match self.meta("format")?.as_deref() {
            Some(FORMAT) => {}
            _ => {
                return Err(Error::Index(format!("{shown}: not a copydesk index")));
            }
        }
        let version = self.meta("format_version")?;
        if version.as_deref() != Some(&FORMAT_VERSION.to_string()) {
            return Err(Error::Index(format!(
                "{shown}: index format version {} is not supported (this copydesk reads version {FORMAT_VERSION})",
                version.unwrap_or_else(|| "missing".into())
            )));
        }
        let hash = self.meta("hash")?;
        if hash.as_deref() != Some(HASH) {
            return Err(Error::Index(format!(
                "{shown}: index was built with hash {:?}, this copydesk uses {HASH:?}",
                hash.unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// The parameters the index was built with (None when nothing was ever committed).
    pub fn parameters(&self) -> Result<Option<Value>> {
        match self.meta("parameters")? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Index(format!(
                    "{}: stored parameters are not JSON: {e}",
                    self.path.display()
                ))
            }),
        }
    }

    /// Refuse `wanted` unless it equals the stored parameters (an empty index accepts any).
    pub fn check_compatible(&self, wanted: &Parameters) -> Result<()> {
        let Some(stored) = self.parameters()? else {
            return Ok(());
        };
        let wanted = to_value(wanted)?;
        let mut differences = Vec::new();
        diff_values("", &stored, &wanted, &mut differences);
        if differences.is_empty() {
            return Ok(());
        }
        Err(Error::Incompatible {
            path: self.path.clone(),
            differences: differences.join(", "),
        })
    }

    /// Add one batch in one transaction: all of it is stored, or (on any error, or if the
    /// process dies) none of it. Ids already stored are an error unless `replace`.
    pub fn add_batch(
        &mut self,
        parameters: &Parameters,
        entries: &[Entry<'_>],
        replace: bool,
        added_at: i64,
    ) -> Result<BatchReport> {
        let path = self.path.clone();
        let err = |e: rusqlite::Error| describe(&path, e);
        let wanted = to_value(parameters)?;
        let wanted_text = wanted.to_string();
        // IMMEDIATE takes the write lock now, so a second writer fails here, before any work.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, added_at INTEGER NOT NULL,
                 added INTEGER NOT NULL, replaced INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS documents (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                 batch INTEGER NOT NULL REFERENCES batches(id), sketch BLOB NOT NULL);",
        )
        .map_err(err)?;
        let stored: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'parameters'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        match stored {
            // Checked again inside the transaction: another writer may have created the index
            // since this one was opened.
            Some(text) => {
                let stored: Value = serde_json::from_str(&text).map_err(|e| {
                    Error::Index(format!(
                        "{}: stored parameters are not JSON: {e}",
                        path.display()
                    ))
                })?;
                let mut differences = Vec::new();
                diff_values("", &stored, &wanted, &mut differences);
                if !differences.is_empty() {
                    return Err(Error::Incompatible {
                        path: path.clone(),
                        differences: differences.join(", "),
                    });
                }
            }
            None => {
                let mut insert = tx
                    .prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")
                    .map_err(err)?;
                for (key, value) in [
                    ("format", FORMAT.to_string()),
                    ("format_version", FORMAT_VERSION.to_string()),
                    ("hash", HASH.to_string()),
                    ("parameters", wanted_text),
                ] {
                    insert.execute(params![key, value]).map_err(err)?;
                }
            }
        }
        tx.execute(
            "INSERT INTO batches (added_at, added, replaced) VALUES (?1, 0, 0)",
            [added_at],
        )
        .map_err(err)?;
        let batch = tx.last_insert_rowid();
        let (mut added, mut replaced) = (0u64, 0u64);
        {
            let mut find = tx
                .prepare("SELECT batch FROM documents WHERE id = ?1")
                .map_err(err)?;
            let mut insert = tx
                .prepare("INSERT INTO documents (id, batch, sketch) VALUES (?1, ?2, ?3)")
                .map_err(err)?;
            let mut update = tx
                .prepare("UPDATE documents SET batch = ?2, sketch = ?3 WHERE id = ?1")
                .map_err(err)?;
            let mut buffer = Vec::new();
            for entry in entries {
                buffer.clear();
                encode_sketch(entry.sketch, &mut buffer);
                let existing: Option<i64> = find
                    .query_row([entry.id], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
                match existing {
                    None => {
                        insert
                            .execute(params![entry.id, batch, buffer])
                            .map_err(err)?;
                        added += 1;
                    }
                    Some(_) if replace => {
                        update
                            .execute(params![entry.id, batch, buffer])
                            .map_err(err)?;
                        replaced += 1;
                    }
                    Some(earlier) if earlier == batch => {
                        return Err(Error::Index(format!(
                            "{}: id {:?} appears twice in the batch",
                            path.display(),
                            entry.id
                        )));
                    }
                    Some(earlier) => {
                        return Err(Error::DuplicateId {
                            path: path.clone(),
                            id: entry.id.to_string(),
                            batch: earlier,
                        });
                    }
                }
            }
        }
        tx.execute(
            "UPDATE batches SET added = ?2, replaced = ?3 WHERE id = ?1",
            params![batch, added as i64, replaced as i64],
        )
        .map_err(err)?;
        let documents: i64 = tx
            .query_row("SELECT count(*) FROM documents", [], |r| r.get(0))
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(BatchReport {
            batch,
            added,
            replaced,
            documents: documents as u64,
        })
    }

    /// Every stored document in insertion order, after checking `parameters`. All sketches are
    /// decoded into memory: about as much as sketching the same documents afresh (at the
    /// default parameters about 8 KB per news article: 1.7 GB for 200,000).
    pub fn load(&self, parameters: &Parameters) -> Result<Stored> {
        self.check_compatible(parameters)?;
        if !self.has_meta()? {
            return Ok(Stored::default());
        }
        let mut statement = self
            .conn
            .prepare("SELECT id, sketch FROM documents ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(|e| self.err(e))?;
        use rayon::prelude::*;
        let shown = self.path.display();
        let decode = |blobs: &mut Vec<Vec<u8>>, ids: &[String], out: &mut Vec<Sketch>| {
            let first = out.len();
            let chunk = blobs
                .par_iter()
                .enumerate()
                .map(|(i, blob)| {
                    decode_sketch(blob).map_err(|message| {
                        Error::Index(format!(
                            "{shown}: document {:?}: corrupt sketch: {message}",
                            ids[first + i]
                        ))
                    })
                })
                .collect::<Result<Vec<Sketch>>>()?;
            out.extend(chunk);
            blobs.clear();
            Ok::<(), Error>(())
        };
        // Decoded in chunks so the raw blobs of the whole index are never in memory at once.
        const CHUNK: usize = 8192;
        let mut ids = Vec::new();
        let mut sketches = Vec::new();
        let mut blobs = Vec::with_capacity(CHUNK);
        for row in rows {
            let (id, blob) = row.map_err(|e| self.err(e))?;
            ids.push(id);
            blobs.push(blob);
            if blobs.len() == CHUNK {
                decode(&mut blobs, &ids, &mut sketches)?;
            }
        }
        decode(&mut blobs, &ids, &mut sketches)?;
        Ok(Stored { ids, sketches })
    }

    /// Counts, parameters and sizes.
    pub fn stats(&self) -> Result<Stats> {
        let file_bytes = [
            self.path.clone(),
            sibling(&self.path, "-wal"),
            // -shm is shared memory for the lock, not data.
        ]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
        if !self.has_meta()? {
            return Ok(Stats {
                documents: 0,
                batches: 0,
                parameters: None,
                format_version: None,
                hash: None,
                sketch_bytes: 0,
                file_bytes,
            });
        }
        let (documents, sketch_bytes): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(sketch)), 0) FROM documents",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        let batches: i64 = self
            .conn
            .query_row("SELECT count(*) FROM batches", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(Stats {
            documents: documents as u64,
            batches: batches as u64,
            parameters: self.parameters()?,
            format_version: self.meta("format_version")?.and_then(|v| v.parse().ok()),
            hash: self.meta("hash")?,
            sketch_bytes: sketch_bytes as u64,
            file_bytes,
        })
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn to_value(parameters: &Parameters) -> Result<Value> {
    serde_json::to_value(parameters)
        .map_err(|e| Error::Index(format!("cannot serialize parameters: {e}")))
}

/// Dotted names of the leaves where `stored` and `wanted` differ, with both values.
fn diff_values(prefix: &str, stored: &Value, wanted: &Value, out: &mut Vec<String>) {
    match (stored, wanted) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_values(&name, x, y, out),
                    (Some(x), None) => out.push(format!("{name} (index: {x}, this run: absent)")),
                    (None, Some(y)) => out.push(format!("{name} (index: absent, this run: {y})")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!("{prefix} (index: {a}, this run: {b})")),
        _ => {}
    }
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .bytes
                .split_first()
                .ok_or_else(|| "truncated varint".to_string())?;
            self.bytes = rest;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn length(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        // Every element takes at least one byte: a larger count is corruption, not a reason
        // to allocate.
        if n > self.bytes.len() as u64 {
            return Err(format!("length {n} exceeds the remaining bytes"));
        }
        Ok(n as usize)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.bytes.len() < N {
            return Err("truncated fixed-width field".into());
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
}

/// Append the byte form of `sketch` (format in the module docs) to `out`.
pub fn encode_sketch(sketch: &Sketch, out: &mut Vec<u8>) {
    // Destructured without `..`: a new field of `Sketch` fails to compile here until the
    // format stores it.
    let Sketch {
        sequence,
        set,
        signature,
        lede_signature,
        simhash,
        chars,
    } = sketch;
    put_varint(*chars as u64, out);
    put_varint(set.len() as u64, out);
    let mut previous = 0u64;
    for &h in set {
        put_varint(h.wrapping_sub(previous), out);
        previous = h;
    }
    put_varint(sequence.len() as u64, out);
    for h in sequence {
        // `set` is sequence sorted and deduplicated, so every shingle is found.
        let position = set.binary_search(h).unwrap_or_default();
        put_varint(position as u64, out);
    }
    for signature in [signature, lede_signature] {
        put_varint(signature.len() as u64, out);
        for v in signature {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.extend_from_slice(&simhash.to_le_bytes());
}

/// Read a sketch written by [`encode_sketch`]; the message says what is wrong with it.
pub fn decode_sketch(bytes: &[u8]) -> Result<Sketch, String> {
    let mut c = Cursor { bytes };
    let chars = usize::try_from(c.varint()?).map_err(|_| "character count too large")?;
    let n = c.length()?;
    let mut set = Vec::with_capacity(n);
    let mut previous = 0u64;
    for i in 0..n {
        let h = previous.wrapping_add(c.varint()?);
        if i > 0 && h <= previous {
            return Err("shingle set is not strictly increasing".into());
        }
        set.push(h);
        previous = h;
    }
    let m = c.length()?;
    let mut sequence = Vec::with_capacity(m);
    for _ in 0..m {
        let position = c.varint()?;
        let h = usize::try_from(position)
            .ok()
            .and_then(|p| set.get(p))
            .ok_or_else(|| format!("sequence position {position} outside the set of {n}"))?;
        sequence.push(*h);
    }
    let mut signatures = [Vec::new(), Vec::new()];
    for signature in &mut signatures {
        let k = c.varint()?;
        if k.saturating_mul(4) > c.bytes.len() as u64 {
            return Err(format!("signature length {k} exceeds the remaining bytes"));
        }
        signature.reserve(k as usize);
        for _ in 0..k {
            signature.push(u32::from_le_bytes(c.take::<4>()?));
        }
    }
    let simhash = u64::from_le_bytes(c.take::<8>()?);
    if !c.bytes.is_empty() {
        return Err(format!("{} bytes left over", c.bytes.len()));
    }
    let [signature, lede_signature] = signatures;
    Ok(Sketch {
        sequence,
        set,
        signature,
        lede_signature,
        simhash,
        chars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::{self, Method};

    const TEXT: &str =
        "The central bank raised its main interest rate by half a point on Tuesday, \
        the third increase this year, citing inflation that has stayed above its target. \
        The bank said the bank would watch the bank's own forecasts.";

    fn roundtrip(sketch: &Sketch) -> Sketch {
        let mut bytes = Vec::new();
        encode_sketch(sketch, &mut bytes);
        match decode_sketch(&bytes) {
            Ok(s) => s,
            Err(message) => panic!("decode failed: {message}"),
        }
    }

    fn same(a: &Sketch, b: &Sketch) -> bool {
        a.sequence == b.sequence
            && a.set == b.set
            && a.signature == b.signature
            && a.lede_signature == b.lede_signature
            && a.simhash == b.simhash
            && a.chars == b.chars
    }

    #[test]
    fn sketches_roundtrip() {
        let mut config = DedupConfig::default();
        let s = dedup::sketch(TEXT, &config);
        assert!(same(&s, &roundtrip(&s)));
        config.method = Method::Simhash;
        let s = dedup::sketch(TEXT, &config);
        assert!(same(&s, &roundtrip(&s)));
        let empty = dedup::sketch("", &config);
        assert!(same(&empty, &roundtrip(&empty)));
    }

    #[test]
    fn extreme_values_roundtrip() {
        let s = Sketch {
            sequence: vec![u64::MAX, 0, u64::MAX, 1],
            set: vec![0, 1, u64::MAX],
            signature: vec![0, u32::MAX],
            lede_signature: vec![7],
            simhash: u64::MAX,
            chars: 12,
        };
        assert!(same(&s, &roundtrip(&s)));
    }

    #[test]
    fn known_bytes() {
        let s = Sketch {
            sequence: vec![300, 5, 300],
            set: vec![5, 300],
            signature: vec![1],
            lede_signature: vec![],
            simhash: 2,
            chars: 3,
        };
        let mut bytes = Vec::new();
        encode_sketch(&s, &mut bytes);
        let expected = [
            3, // chars
            2, 5, 0xa7, 0x02, // set: 5, then gap 295
            3, 1, 0, 1, // sequence as positions
            1, 1, 0, 0, 0, // signature
            0, // lede signature
            2, 0, 0, 0, 0, 0, 0, 0, // simhash
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let s = dedup::sketch(TEXT, &DedupConfig::default());
        let mut bytes = Vec::new();
        encode_sketch(&s, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode_sketch(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_sketch(&longer).is_err());
        assert!(decode_sketch(&[0xff; 16]).is_err());
    }

    #[test]
    fn differences_are_named() {
        let a = serde_json::json!({"config": {"shingle": {"ngram": 3}, "threshold": 0.5}, "clean": true});
        let b = serde_json::json!({"config": {"shingle": {"ngram": 5}, "threshold": 0.5}, "clean": true, "x": 1});
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        assert_eq!(
            out,
            vec![
                "config.shingle.ngram (index: 3, this run: 5)".to_string(),
                "x (index: absent, this run: 1)".to_string()
            ]
        );
    }
}
