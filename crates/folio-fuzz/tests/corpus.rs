//! The fuzz targets' seed corpora (and the minimised crash inputs kept there as regressions)
//! through their checks, and the bookkeeping that keeps `fuzz/` and [`folio_fuzz::TARGETS`]
//! in step.

use std::fs;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

use folio_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The names in `dir`, sorted; with `extension`, only those files, named without it.
fn names_in(dir: &Path, extension: Option<&str>) -> Vec<String> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter_map(|path| match extension {
            None => Some(path.file_name()?.to_str()?.to_owned()),
            Some(ext) if path.extension().is_some_and(|e| e == ext) => {
                Some(path.file_stem()?.to_str()?.to_owned())
            }
            Some(_) => None,
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_target_has_a_fuzz_target_a_bin_and_a_seed_corpus() {
    let mut listed: Vec<String> = TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    let dir = fuzz_dir();
    assert_eq!(
        names_in(&dir.join("fuzz_targets"), Some("rs")),
        listed,
        "fuzz/fuzz_targets"
    );
    assert_eq!(names_in(&dir.join("corpus"), None), listed, "fuzz/corpus");

    // Parsed, not searched: cargo-fuzz reads it as TOML, and one malformed line hides every
    // target from it.
    let manifest: toml::Table = fs::read_to_string(dir.join("Cargo.toml"))
        .expect("fuzz/Cargo.toml")
        .parse()
        .expect("fuzz/Cargo.toml is valid TOML");
    let mut bins: Vec<(String, String)> = manifest["bin"]
        .as_array()
        .expect("[[bin]] entries")
        .iter()
        .map(|bin| {
            let field = |key: &str| bin[key].as_str().expect("name and path").to_owned();
            (field("name"), field("path"))
        })
        .collect();
    bins.sort();
    let want: Vec<(String, String)> = listed
        .iter()
        .map(|name| (name.clone(), format!("fuzz_targets/{name}.rs")))
        .collect();
    assert_eq!(bins, want, "fuzz/Cargo.toml: one [[bin]] per target");
    for name in &listed {
        let source =
            fs::read_to_string(dir.join(format!("fuzz_targets/{name}.rs"))).unwrap_or_default();
        assert!(
            source.contains(&format!("folio_fuzz::{name}(data)")),
            "fuzz/fuzz_targets/{name}.rs does not call folio_fuzz::{name}"
        );
        assert!(
            !names_in(&dir.join("corpus").join(name), None).is_empty(),
            "fuzz/corpus/{name} is empty"
        );
    }
}

#[test]
fn seed_corpora_pass_their_checks() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, check) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        for file in names_in(&dir, None) {
            let path = dir.join(&file);
            let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
            if catch_unwind(|| check(&data)).is_err() {
                failures.push(format!("fuzz/corpus/{name}/{file}"));
            }
        }
    }
    assert!(failures.is_empty(), "failed: {failures:?}");
    assert!(count >= 6 * TARGETS.len(), "only {count} seed files");
}
