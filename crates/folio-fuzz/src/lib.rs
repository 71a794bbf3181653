//! The checks behind Folio's fuzz targets.
//!
//! Each public function takes one input as bytes, feeds it to the real parsers of the crates
//! that handle untrusted request data, and **panics when an invariant breaks**. "Does not
//! panic" is the least they check: each also asserts what the parser promises in its docs
//! (a sanitised name is one safe path segment, a canonical form parses back to the same value,
//! a token that verifies was signed with the key, ...).
//!
//! The same functions run in two places, so a finding made by one is kept by both:
//!
//! * `fuzz/` (cargo-fuzz layout, outside the workspace): one libFuzzer target per function,
//!   each a one-line call. `scripts/fuzz.sh` runs them for millions of executions.
//! * `tests/` of this crate (part of `cargo test --workspace`, so CI): every file of
//!   `fuzz/corpus/<target>/`, then proptest-generated inputs, through the same function.
//!
//! Inputs with several fields are lines (`\n`-separated, invalid UTF-8 replaced), so the
//! seed corpora are readable text; see each function for its layout.
//!
//! # Adding a target
//!
//! 1. a `pub fn name(data: &[u8])` here (a module of its own when it is more than a few
//!    lines), and a row in [`TARGETS`];
//! 2. `fuzz/fuzz_targets/name.rs` (copy a sibling: one line differs) and its `[[bin]]` in
//!    `fuzz/Cargo.toml`;
//! 3. a few seed files in `fuzz/corpus/name/`;
//! 4. a proptest in `tests/properties.rs`.
//!
//! `tests/corpus.rs` fails until 1–3 agree, and `scripts/fuzz.sh` finds the new target by
//! itself. Code of the server crate (`folio`, e.g. the multipart intake) is reached by adding
//! `folio` to this crate's dependencies; its pure functions need to be `pub`.

mod checks;
mod intake;
mod names;
mod search;
mod signed_url;
mod text;
mod token;
mod transformation;

pub use checks::checks;
pub use intake::{multipart, urlencoded};
pub use names::{file_name, folder};
pub use search::search;
pub use signed_url::signed_url;
pub use token::{jwt, v1_fields};
pub use transformation::transformation;

/// A check: feeds one input to the parsers, panics when an invariant breaks.
pub type Check = fn(&[u8]);

/// Every target by name, as the fuzz target files and corpus directories are named.
pub const TARGETS: &[(&str, Check)] = &[
    ("jwt", jwt),
    ("v1_fields", v1_fields),
    ("file_name", file_name),
    ("folder", folder),
    ("transformation", transformation),
    ("checks", checks),
    ("multipart", multipart),
    ("urlencoded", urlencoded),
    ("signed_url", signed_url),
    ("search", search),
];

/// The clock the token targets verify against: 2025-01-01T00:00:00Z, as in the spec's examples.
pub const NOW: i64 = 1_735_689_600;

/// The private key the token targets verify with (and the seed tokens are signed with).
pub const PRIVATE_KEY: &str = "private_fuzz_key";

/// The public key (`kid`) of [`PRIVATE_KEY`].
pub const PUBLIC_KEY: &str = "public_fuzz_key";
