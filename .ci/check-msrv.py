#!/usr/bin/env python3
"""MSRV check for the workspace, on the one toolchain this project's machines have.

Two halves, since no Rust 1.88 toolchain can be installed here to build with:
- std APIs newer than the MSRV are caught by clippy's `incompatible_msrv` lint, which reads
  `rust-version` from each package (the clippy step of .ci/run denies warnings);
- this script: every workspace member declares the same `rust-version`, and no package in the
  resolved dependency graph (Cargo.lock) requires a newer Rust than that.
Language features newer than the MSRV are not caught by either; see the README's MSRV section.
"""
import json
import subprocess
import sys


def version(text):
    return tuple(int(part) for part in text.split(".")[:3]) + (0,) * (3 - len(text.split(".")))


metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
members = set(metadata["workspace_members"])
packages = metadata["packages"]
declared = {p["name"]: p.get("rust_version") for p in packages if p["id"] in members}
missing = [name for name, rv in declared.items() if not rv]
if missing:
    sys.exit(f"workspace members without rust-version: {', '.join(sorted(missing))}")
msrvs = set(declared.values())
if len(msrvs) != 1:
    sys.exit(f"workspace members disagree on rust-version: {declared}")
msrv = msrvs.pop()

too_new = sorted(
    f"{p['name']} {p['version']} needs Rust {p['rust_version']}"
    for p in packages
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
)
if too_new:
    sys.exit(f"dependencies need a newer Rust than the declared MSRV {msrv}:\n  " + "\n  ".join(too_new))

highest = max(
    (p for p in packages if p["id"] not in members and p.get("rust_version")),
    key=lambda p: version(p["rust_version"]),
)
print(
    f"MSRV {msrv}: declared by all {len(declared)} workspace members; {len(packages) - len(declared)} "
    f"dependencies need at most Rust {highest['rust_version']} ({highest['name']} {highest['version']})"
)
