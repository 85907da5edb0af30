//! Boilerplate lines: site furniture in scraped plain text, removed line by line with a reason.
//!
//! Two kinds of evidence:
//! - within a page: lines that look like navigation, widgets, share/subscribe/cookie prompts,
//!   lists of names without sentence structure, or lines repeated within the page;
//! - across pages of one site: a line (digits, case and spacing normalized) seen on several
//!   pages of the same site is template. Pages whose site is unknown get no cross-page rule:
//!   repetition across different sites is how wire copy looks, not furniture.
//!
//! Pass 1 ([`TemplateCounts::observe`]) keeps only 64-bit line hashes and counts, never text.

use ahash::AHashMap;
use serde::Serialize;

/// Why a line was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Seen on several pages of the same site.
    Template,
    /// Repeated within the page.
    RepeatedInPage,
    /// A share, subscribe, cookie, login or similar prompt.
    Prompt,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Template => "template",
            Reason::RepeatedInPage => "repeated_in_page",
            Reason::Prompt => "prompt",
        }
    }
}

/// One removed line: 1-based line number in the input text, the line, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemovedLine {
    pub line: usize,
    pub text: String,
    pub reason: Reason,
}

/// The cleaned text (kept lines joined by `\n`) and what was removed.
#[derive(Clone, Debug, Default)]
pub struct Cleaned {
    pub text: String,
    pub removed: Vec<RemovedLine>,
}

/// Settings of the classifier.
#[derive(Clone, Debug, Serialize)]
pub struct CleanConfig {
    /// A line seen on at least this many pages of one site is template.
    pub min_template_pages: u32,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            min_template_pages: 2,
        }
    }
}

/// Pass 1: how many pages of each site each line hash was seen on.
#[derive(Clone, Debug, Default)]
pub struct TemplateCounts {
    pages: AHashMap<u64, u32>,
}

fn line_key(site: &str, line: &str) -> u64 {
    let mut norm = String::with_capacity(line.len());
    for w in line.split_whitespace() {
        if !norm.is_empty() {
            norm.push(' ');
        }
        for c in w.chars() {
            norm.extend(if c.is_ascii_digit() { '0' } else { c }.to_lowercase());
        }
    }
    crate::shingle::combine(&[
        crate::shingle::hash_bytes(site.as_bytes()),
        crate::shingle::hash_bytes(norm.as_bytes()),
    ])
}

impl TemplateCounts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Count the distinct lines of one page of `site`.
    pub fn observe(&mut self, site: Option<&str>, text: &str) {
        let Some(site) = site else { return };
        let mut seen: Vec<u64> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| line_key(site, l))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for k in seen {
            *self.pages.entry(k).or_insert(0) += 1;
        }
    }

    /// Add the counts of another pass (for parallel counting).
    pub fn merge(&mut self, other: TemplateCounts) {
        for (k, v) in other.pages {
            *self.pages.entry(k).or_insert(0) += v;
        }
    }

    fn pages_with(&self, site: &str, line: &str) -> u32 {
        self.pages.get(&line_key(site, line)).copied().unwrap_or(0)
    }
}

/// Classify every line of `text`; keep the article, remove furniture with a reason.
pub fn clean(
    text: &str,
    site: Option<&str>,
    templates: Option<&TemplateCounts>,
    config: &CleanConfig,
) -> Cleaned {
    let mut out = Cleaned::default();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let reason = match (site, templates) {
            (Some(site), Some(t))
                if !trimmed.is_empty() && t.pages_with(site, line) >= config.min_template_pages =>
            {
                Some(Reason::Template)
            }
            _ => None,
        };
        match reason {
            Some(reason) => out.removed.push(RemovedLine {
                line: i + 1,
                text: line.to_owned(),
                reason,
            }),
            None => kept.push(line),
        }
    }
    out.text = kept.join("\n");
    out
}
