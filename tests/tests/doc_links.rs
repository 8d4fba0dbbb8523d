//! Keeps the repository's references readable by anyone with a clone: no Markdown link and no
//! Rust comment may point outside the repository, and relative Markdown links must name files
//! that exist.
//!
//! * Markdown (`*.md`, outside fenced code blocks and code spans): every inline link
//!   `[text](target)` and reference definition `[label]: target` whose target is not a URL
//!   (`https:`, `mailto:`, …) or an anchor (`#…`) must be a relative path that stays inside the
//!   repository and names an existing file or directory (resolved from the Markdown file's own
//!   directory, the `#fragment` dropped). An absolute path (starting with `/`) is refused.
//! * Rust comments (`//`, `///`, `//!` in `*.rs`): a path with `..` that names nothing in the
//!   repository from the file's directory or any of its ancestors up to the root (so it climbs
//!   out of the repository, or is dead), an absolute path into
//!   someone's machine (under a home directory or the work tree, a file URL, a drive letter; see
//!   `ABSOLUTE_ROOTS`), and a path to a Markdown file that exists nowhere in the repository are
//!   refused.
//!
//! Scanned: everything under the workspace root except `target/`, hidden directories and the fuzz
//! corpus. CI scripts and `deny.toml` may name the advisory-database snapshot that CI keeps
//! beside the clone (an input of CI, not a reference for a reader) and are not scanned.

use std::path::{Component, Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Directories never scanned (relative to the root, or any directory of these names).
const SKIPPED_DIRS: [&str; 4] = ["target", "corpus", "artifacts", "node_modules"];

/// The files under `dir` whose names end with `extension`, sorted.
fn files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                files(&path, extension, out);
            }
        } else if name.ends_with(extension) {
            out.push(path);
        }
    }
}

/// `base` joined with `relative`, `.` and `..` resolved lexically; `None` when it climbs above
/// the file-system root.
fn resolve(base: &Path, relative: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in base.join(relative).components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Whether `target` is a URL or an in-page anchor, not a file.
fn is_url_or_anchor(target: &str) -> bool {
    target.starts_with('#')
        || target.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                    && scheme.len() > 1 // `C:` is a drive, not a scheme
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
}

/// The link targets of `markdown` outside fenced code blocks and code spans, with line numbers.
fn markdown_links(markdown: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut fenced = false;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Text outside code spans.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        // Reference definitions: `[label]: target`.
        if let Some(rest) = prose.trim_start().strip_prefix('[')
            && let Some((_, after)) = rest.split_once("]:")
            && let Some(target) = after.split_whitespace().next()
        {
            links.push((index + 1, clean_target(target)));
        }
        // Inline links: `](target)` or `](<target> "title")`.
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or_default();
            if !target.is_empty() {
                links.push((index + 1, clean_target(target)));
            }
        }
    }
    links
}

fn clean_target(target: &str) -> String {
    target
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// What is wrong with a Markdown link to `target` from `file`, if anything.
fn check_markdown_link(root: &Path, file: &Path, target: &str) -> Option<String> {
    if is_url_or_anchor(target) {
        return None;
    }
    let path = target.split(['#', '?']).next().unwrap_or_default();
    if path.is_empty() {
        return None;
    }
    if path.starts_with('/') || path.starts_with('~') || path.contains('\\') {
        return Some(format!(
            "`{target}` is an absolute path: link files of the repository relatively"
        ));
    }
    let dir = file.parent().unwrap_or(root);
    let decoded = path.replace("%20", " ");
    match resolve(dir, &decoded) {
        Some(resolved) if resolved.starts_with(root) => {
            (!resolved.exists()).then(|| format!("`{target}` names no file of the repository"))
        }
        _ => Some(format!(
            "`{target}` points outside the repository: a reader of a clone cannot follow it"
        )),
    }
}

/// The comment text of each line of Rust `source` (`//` outside string literals), with line
/// numbers. A heuristic: a `//` after an odd number of `"` on the line is inside a string.
fn rust_comments(source: &str) -> Vec<(usize, String)> {
    let mut comments = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let mut search = 0;
        while let Some(at) = line[search..].find("//") {
            let at = search + at;
            let before = &line[..at];
            let quotes = before.matches('"').count() - before.matches("\\\"").count();
            // `"…//…"` in a string, and `://` of a URL in a string or a comment.
            if quotes % 2 == 0 && !before.ends_with(':') {
                comments.push((index + 1, line[at..].to_owned()));
                break;
            }
            search = at + 2;
        }
    }
    comments
}

/// Absolute file-system paths that have no place in a comment of a repository.
/// (`/tmp/…` and system directories may appear in examples of commands.)
const ABSOLUTE_ROOTS: [&str; 5] = ["/home/", "/root/", "/work/", "/Users/", "file://"];

/// What is wrong with the comment `text` in `file`, if anything.
fn check_comment(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = file.parent().unwrap_or(root);
    let tokens = text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '`' | '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'' | ','
            )
    });
    for token in tokens {
        let token = token.trim_end_matches(['.', ':', ';']);
        if token.is_empty() {
            continue;
        }
        if token.starts_with("../") || token.contains("/../") {
            // Fine only when, from the file's directory or one of its ancestors in the
            // repository, it names something that exists in the repository.
            let found = ancestors_within(root, dir).any(|base| {
                resolve(base, token).is_some_and(|p| p.starts_with(root) && p.exists())
            });
            if !found {
                problems.push(format!(
                    "`{token}` points outside the repository (or to nothing in it)"
                ));
            }
            continue;
        }
        if ABSOLUTE_ROOTS
            .iter()
            .any(|prefix| token.starts_with(prefix) || token.contains(&format!("/{prefix}")))
            || (token.len() > 2 && token.as_bytes()[1..3] == *b":\\")
        {
            problems.push(format!("`{token}` is an absolute file-system path"));
            continue;
        }
        if token.ends_with(".md") && token.contains('/') && !token.contains("://") {
            let path = token.trim_start_matches("./");
            let exists = ancestors_within(root, dir).any(|base| base.join(path).exists());
            if !exists {
                problems.push(format!("`{token}` names no file of the repository"));
            }
        }
    }
    problems
}

/// `dir` and its ancestors up to `root` (a crate's comments may cite paths from its own root).
fn ancestors_within<'a>(root: &'a Path, dir: &'a Path) -> impl Iterator<Item = &'a Path> {
    dir.ancestors().take_while(move |a| a.starts_with(root))
}

fn relative<'a>(root: &Path, file: &'a Path) -> std::borrow::Cow<'a, str> {
    file.strip_prefix(root).unwrap_or(file).to_string_lossy()
}

#[test]
fn no_markdown_link_points_outside_the_repository_or_nowhere() {
    let root = workspace_root();
    let mut pages = Vec::new();
    files(&root, ".md", &mut pages);
    assert!(
        pages.iter().any(|p| p.ends_with("docs/protocol.md")),
        "the scan must reach docs/"
    );
    let mut problems = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a readable Markdown file");
        for (line, target) in markdown_links(&text) {
            if let Some(problem) = check_markdown_link(&root, page, &target) {
                problems.push(format!("{}:{line}: {problem}", relative(&root, page)));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dead or outside links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_rust_comment_points_outside_the_repository_or_nowhere() {
    let root = workspace_root();
    let mut sources = Vec::new();
    files(&root, ".rs", &mut sources);
    assert!(sources.len() > 20, "the scan must reach the crates");
    let mut problems = Vec::new();
    for source in &sources {
        let text = std::fs::read_to_string(source).expect("a readable Rust file");
        for (line, comment) in rust_comments(&text) {
            for problem in check_comment(&root, source, &comment) {
                problems.push(format!("{}:{line}: {problem}", relative(&root, source)));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "comments that point outside the repository or nowhere:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checkers_catch_what_they_must() {
    let root = workspace_root();
    let page = root.join("docs").join("for-tsc-users.md");
    let up = "..";
    let outside = format!("{up}/{up}/shared/design/peers.md");
    // Markdown: outside, absolute, missing; fine: existing, URL, anchor, fragment.
    for bad in [
        outside.as_str(),
        "/work/shared/protocol/tableau-auth.md",
        "protocol-missing.md",
        "../no-such-dir/README.md",
    ] {
        assert!(
            check_markdown_link(&root, &page, bad).is_some(),
            "{bad} must be refused"
        );
    }
    for good in [
        "protocol.md",
        "protocol.md#redirects",
        "../README.md",
        "../tableau-auth-proto/src/lib.rs",
        "https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_concepts_auth.htm",
        "#sources",
        "mailto:someone@example.com",
    ] {
        assert_eq!(check_markdown_link(&root, &page, good), None, "{good}");
    }
    let links = markdown_links(&format!(
        "A [link](protocol.md \"title\") and [another](<{outside}>).\n\
         `[not a link](nowhere.md)`\n\
         ```\n[in a fence](nowhere.md)\n```\n\
         [label]: ../README.md\n"
    ));
    let targets: Vec<&str> = links.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(targets, ["protocol.md", outside.as_str(), "../README.md"]);

    // Comments.
    let file = root.join("tests").join("src").join("fake").join("mod.rs");
    let slashes = "//";
    let comments = rust_comments(&format!(
        "let url = \"https://example.com//x\"; {slashes} see {outside}\n\
         {slashes}! follows `shared/protocol/tableau-auth.md`\n\
         let s = \"{slashes} not a comment\";\n"
    ));
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert_eq!(check_comment(&root, &file, &comments[0].1).len(), 1);
    assert_eq!(check_comment(&root, &file, &comments[1].1).len(), 1);
    for bad in [
        "// see /home/someone/notes.txt",
        "// from /work/shared/protocol",
        "// at file:///etc/hosts",
    ] {
        assert_eq!(check_comment(&root, &file, bad).len(), 1, "{bad}");
    }
    for good in [
        "// docs/protocol.md, \"Redirects\"",
        "// `tableau-auth-proto/README.md` and POST /api/3.25/auth/signin",
        "// https://help.tableau.com/current/server/en-us/trusted_auth.htm",
        "// GET /trusted/{ticket}/views/x",
    ] {
        assert!(check_comment(&root, &file, good).is_empty(), "{good}");
    }
}
