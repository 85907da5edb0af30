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
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("index: {0}")]
    Index(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
