//! Keeps `docs/for-tsc-users.md` honest: every test it cites must exist.
//!
//! A citation is an inline code span of the form `` `crate-dir/path/file.rs::test_name` ``, the
//! path relative to the workspace root (integration tests under `*/tests/`, unit tests under
//! `*/src/`). For each one the file must exist and hold `fn test_name(` under a `#[test]` or
//! `#[tokio::test…]` attribute. Any code span that contains `.rs::` but does not have that shape
//! is reported too, so a typo cannot hide a citation from the check. Every test of
//! `tests/tests/tsc_parity.rs` must be cited by the page.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PAGE: &str = "docs/for-tsc-users.md";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// A test cited by the page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Citation {
    file: String,
    test: String,
    line: usize,
}

/// The inline code spans of `markdown` outside fenced code blocks, with their line numbers.
fn code_spans(markdown: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1 {
                spans.push((index + 1, part.to_owned()));
            }
        }
    }
    spans
}

/// `crate-dir/path/file.rs::test_name`, or why not.
fn parse_citation(span: &str) -> Result<(String, String), &'static str> {
    let (file, test) = span.split_once("::").ok_or("no `::`")?;
    let path_ok = !file.is_empty()
        && file.ends_with(".rs")
        && !file.starts_with('/')
        && file.split('/').count() >= 3
        && file
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if !path_ok {
        return Err("the path must be `crate-dir/tests|src/…/file.rs`, relative to the workspace");
    }
    let name_ok = !test.is_empty()
        && test
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err("the test name must be one snake_case identifier");
    }
    Ok((file.to_owned(), test.to_owned()))
}

/// Why `test` is not a test function of `source`, if it is not.
fn check_test(source: &str, test: &str) -> Result<(), String> {
    let needle = format!("fn {test}(");
    let lines: Vec<&str> = source.lines().collect();
    let Some(at) = lines.iter().position(|l| {
        l.find(&needle).is_some_and(|i| {
            // `fn name(` and not `fn other_name(`.
            i == 0 || !l[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    }) else {
        return Err(format!("no `{needle}` in the file"));
    };
    // Walk up over attributes, doc comments and comments to find the test attribute.
    for line in lines[..at].iter().rev() {
        let line = line.trim();
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            return Ok(());
        }
        if !(line.starts_with("#[") || line.starts_with("//") || line.ends_with(")]")) {
            break;
        }
    }
    Err(format!("`{needle}` is not under #[test] or #[tokio::test]"))
}

/// The names of the `#[test]` functions of `source`.
fn tests_in(source: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut names = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if !(trimmed.starts_with("#[test]") || trimmed.starts_with("#[tokio::test")) {
            continue;
        }
        if let Some(name) = lines[i + 1..]
            .iter()
            .find_map(|l| l.trim().split_once("fn ").map(|(_, rest)| rest))
            .and_then(|rest| rest.split('(').next())
        {
            names.insert(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn every_test_cited_by_the_tsc_page_exists() {
    let root = workspace_root();
    let page = std::fs::read_to_string(root.join(PAGE))
        .unwrap_or_else(|e| panic!("cannot read {PAGE}: {e}"));

    let mut citations = BTreeSet::new();
    let mut problems = Vec::new();
    for (line, span) in code_spans(&page) {
        if !span.contains(".rs::") {
            continue;
        }
        match parse_citation(&span) {
            Ok((file, test)) => {
                citations.insert(Citation { file, test, line });
            }
            Err(why) => problems.push(format!("{PAGE}:{line}: `{span}`: {why}")),
        }
    }
    assert!(
        citations.len() >= 30,
        "only {} test citations found in {PAGE}: is the citation syntax still \
         `crate-dir/path/file.rs::test_name`?",
        citations.len()
    );

    for citation in &citations {
        let Citation { file, test, line } = citation;
        let path = root.join(file);
        match std::fs::read_to_string(&path) {
            Err(e) => problems.push(format!(
                "{PAGE}:{line}: `{file}::{test}`: cannot read {file}: {e}"
            )),
            Ok(source) => {
                if let Err(why) = check_test(&source, test) {
                    problems.push(format!("{PAGE}:{line}: `{file}::{test}`: {why}"));
                }
            }
        }
    }

    // Every TSC-parity test is on the page.
    let parity_file = "tests/tests/tsc_parity.rs";
    let parity = std::fs::read_to_string(root.join(parity_file)).expect("tsc_parity.rs");
    let cited: BTreeSet<&str> = citations
        .iter()
        .filter(|c| c.file == parity_file)
        .map(|c| c.test.as_str())
        .collect();
    for test in tests_in(&parity) {
        if !cited.contains(test.as_str()) {
            problems.push(format!(
                "{parity_file}::{test} is a TSC-parity test that {PAGE} does not cite"
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "{} broken test reference(s) in {PAGE}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_catches_what_it_must() {
    // Citation syntax.
    assert!(parse_citation("tableau-auth-ureq/tests/e2e_flows.rs::password_xml").is_ok());
    assert!(parse_citation("tableau-auth-proto/src/wire/json.rs::sniffs_formats").is_ok());
    for bad in [
        "e2e_flows.rs::password_xml",
        "/abs/tests/x.rs::t",
        "a/../tests/x.rs::t",
        "a/tests/x.rs::",
        "a/tests/x.rs::Not_Snake",
        "a/tests/x.rs::a::b",
    ] {
        assert!(parse_citation(bad).is_err(), "{bad}");
    }
    // Spans inside fences are not citations; inline ones are.
    let page = "a `x/tests/y.rs::t` b\n```rust\n`x/tests/y.rs::u`\n```\n`z`";
    let spans: Vec<String> = code_spans(page).into_iter().map(|(_, s)| s).collect();
    assert_eq!(spans, ["x/tests/y.rs::t", "z"]);
    // A test, a helper, a missing function, a prefix of another name.
    let source = "#[test]\nfn real() {}\n\nfn helper() {}\n\n#[tokio::test(flavor = \"multi_thread\")]\n\
                  async fn real_async() {}\n/// doc\n#[test]\n#[should_panic]\nfn documented() {}\n";
    assert!(check_test(source, "real").is_ok());
    assert!(check_test(source, "real_async").is_ok());
    assert!(check_test(source, "documented").is_ok());
    assert!(check_test(source, "helper").is_err());
    assert!(check_test(source, "missing").is_err());
    assert!(check_test(source, "async").is_err());
    assert_eq!(
        tests_in(source),
        ["documented", "real", "real_async"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}
