//! Replays the committed fuzz corpus (and the core's response fixtures as extra seeds) through
//! every fuzz target on stable Rust, so CI checks every input the fuzzer ever kept without
//! running the fuzzer. Each target is `tableau_auth_proto::fuzzing::run_target`, the exact code
//! the `fuzz/` binaries call.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tableau_auth_proto::fuzzing::{TARGETS, run_target};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_and_fixture_runs_through_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = files_in(&root.join("tableau-auth-proto/tests/fixtures"));
    assert!(
        fixtures.len() > 20,
        "the fixtures are seeds: {}",
        fixtures.len()
    );
    let now = Instant::now();
    let mut replayed = 0;
    for target in TARGETS {
        let corpus = files_in(&root.join("fuzz/corpus").join(target));
        for file in corpus.iter().chain(&fixtures) {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // A panic here names the input through the test's output.
            assert!(run_target(target, now, &data), "unknown target {target}");
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len() * fixtures.len());
}

#[test]
fn unknown_targets_are_reported() {
    assert!(!run_target("no_such_target", Instant::now(), b""));
}
