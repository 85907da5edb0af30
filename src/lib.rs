//! copydesk: clean scraped news text and find duplicated reporting in it.
//!
//! Data flows one way: [`input`] yields documents, [`boilerplate`] removes site furniture
//! line by line, [`normalize`] and [`shingle`] turn text into hashed shingles, [`minhash`]
//! and [`simhash`] sketch them, [`lsh`] finds candidate pairs, [`verify`] checks each pair
//! exactly, and [`cluster`] joins verified pairs. [`dedup`] wires those stages; [`index`]
//! keeps their sketches between runs; [`eval`] scores a result against truth. The library never prints, exits or reads the environment.

pub mod boilerplate;
pub mod cluster;
pub mod dedup;
pub mod doc;
pub mod error;
pub mod eval;
pub mod frequency;
pub mod index;
pub mod input;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod passages;
pub mod pipeline;
pub mod shingle;
pub mod simhash;
pub mod verify;

pub use error::{Error, Result};
