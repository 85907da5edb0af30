//! The library's error type. The CLI wraps these with `anyhow` context; the library never exits.

use std::path::PathBuf;

/// Errors the library can return. Every input error names the file and, where it applies, the line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Record {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("temporary file for band keys: {0}")]
    Scratch(#[source] std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("index: {0}")]
    Index(String),
    #[error("index: {0}: the index is locked by another writer (one batch is added at a time; readers are never blocked)")]
    Locked(PathBuf),
    #[error("index: {path}: parameters differ from those the index was built with: {differences}")]
    Incompatible { path: PathBuf, differences: String },
    #[error("index: {path}: id {id:?} is already in the index (batch {batch})")]
    DuplicateId {
        path: PathBuf,
        id: String,
        batch: i64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
