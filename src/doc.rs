//! One input document and where it came from.
//!
//! A `Doc` is the unit every stage works on. Its `origin` lets every message and every
//! rejected record point back to a file and line, so nothing the user gave is lost track of.

use std::fmt;
use std::path::PathBuf;

/// Where a document was read from: a file (or `-` for stdin) and, for JSONL, a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub path: PathBuf,
    /// 1-based line number for JSONL records; `None` for a whole-file document.
    pub line: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path.display(), line),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// A document: its id, its raw text, and its site (when known) for cross-page templates.
#[derive(Clone, Debug)]
pub struct Doc {
    pub id: String,
    pub text: String,
    /// The site the page belongs to (from a site field, a URL's host or the folder), if known.
    pub site: Option<String>,
    pub origin: Origin,
}
