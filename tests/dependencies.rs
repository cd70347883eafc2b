//! The dependency policy, checked by `cargo test` (what `cargo deny check licenses bans` would
//! check): every crate the workspace can compile has a permissive licence, and Hearth's own build
//! compiles no crate in two versions unless the list below says why.
//!
//! Security advisories are not checked here: the RustSec database is fetched from GitHub, which
//! this project's CI cannot reach. Where the network allows, `cargo audit` or
//! `cargo deny check advisories` does that part.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Licences (SPDX ids) a dependency may be used under: permissive ones, with no obligation on
/// Hearth's own code. A copyleft licence (GPL, LGPL, AGPL, MPL, EPL, ...) needs a decision, not a
/// line here.
const ALLOWED_LICENSES: &[&str] = &[
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    // webpki-roots: Mozilla's root certificates as data.
    "CDLA-Permissive-2.0",
    "ISC",
    "MIT",
    "MIT-0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "Zlib",
];

/// Licence exceptions (`X WITH exception`) that only grant more.
const ALLOWED_EXCEPTIONS: &[&str] = &["LLVM-exception"];

/// Crates that name no licence expression in their manifest, only a licence file: the licence we
/// read in that file, and a phrase the file must still contain (so a new version that changes
/// its licence fails here).
const CLARIFIED: &[(&str, &str, &str)] = &[
    // A dev-dependency (the iCalendar feed's tests parse with it).
    ("ical", "Apache-2.0", "Apache License"),
];

/// Crates Hearth's build compiles in more than one version: the name, how many versions, and
/// why it cannot be one today. The check fails when a crate not listed here is duplicated, and
/// when a listed crate has fewer versions than stated (lower the count or remove the line).
const ALLOWED_DUPLICATES: &[(&str, usize, &str)] = &[
    (
        "base64",
        2,
        "hyper-util 0.1 uses base64 0.23; axum, jsonschema, reqwest, serenity and sqlx use 0.22",
    ),
    (
        "getrandom",
        2,
        "rand 0.8 and ring use 0.2; ahash (jsonschema, the emulator) uses 0.3",
    ),
    (
        "hashbrown",
        3,
        "dashmap 5 (serenity 0.12) uses 0.14, hashlink (sqlx 0.8) 0.15, indexmap 2 0.17",
    ),
    (
        "hashlink",
        2,
        "rusqlite 0.32 (the release on sqlx's libsqlite3-sys 0.30) uses 0.9; sqlx 0.8 uses 0.10",
    ),
    (
        "miniz_oxide",
        2,
        "png 0.18 (the charts) uses 0.8; flate2 (ours, serenity's) uses 0.9",
    ),
    (
        "rustls",
        2,
        "serenity 0.12 builds tokio-tungstenite 0.21 (rustls 0.22) and reqwest 0.12 (rustls 0.23)",
    ),
    ("rustls-webpki", 2, "follows rustls (0.22 and 0.23)"),
    ("tokio-rustls", 2, "follows rustls (0.22 and 0.23)"),
    (
        "webpki-roots",
        2,
        "tokio-tungstenite 0.21 (serenity) uses 0.26, a shim over 1.0 that reqwest uses",
    ),
    (
        "syn",
        2,
        "proc-macros move to syn 3 at their own pace: poise_macros, darling 0.20, thiserror-impl 1, \
         tracing-attributes and maud_macros (with proc-macro2-diagnostics) are still on syn 2",
    ),
    (
        "thiserror",
        2,
        "tungstenite 0.21 (serenity 0.12) uses thiserror 1; Hearth uses 2",
    ),
    ("thiserror-impl", 2, "follows thiserror (1 and 2)"),
    (
        "winnow",
        2,
        "cron 0.15 uses winnow 0.6; toml_edit 0.22 uses 0.7",
    ),
];

/// The platform the duplicate check resolves for: what an operator builds. A fixed target gives
/// the same answer on every developer's machine.
const TARGET: &str = "x86_64-unknown-linux-gnu";

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(&cargo)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{cargo} runs: {e}"));
    assert!(
        out.status.success(),
        "cargo {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

#[test]
fn every_dependency_has_an_allowed_license() {
    // Every package of the resolved workspace, for every platform and dependency kind: whatever
    // may be compiled from this repository.
    let metadata: Value =
        serde_json::from_str(&cargo(&["metadata", "--locked", "--format-version", "1"]))
            .expect("cargo metadata prints JSON");
    let mut offenders = Vec::new();
    let mut clarified_seen = BTreeSet::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap_or_default();
        let version = package["version"].as_str().unwrap_or_default();
        let verdict = match package["license"].as_str() {
            Some(expression) => match allowed(expression) {
                Ok(true) => continue,
                Ok(false) => format!("licence `{expression}` is not in ALLOWED_LICENSES"),
                Err(e) => format!("licence `{expression}` does not parse: {e}"),
            },
            None => match clarify(package) {
                Ok(()) => {
                    clarified_seen.insert(name.to_owned());
                    continue;
                }
                Err(e) => e,
            },
        };
        offenders.push(format!("  {name} {version}: {verdict}"));
    }
    assert!(
        offenders.is_empty(),
        "dependencies under a licence Hearth does not accept:\n{}\n\
         Fix: use another crate (or another version of it), or, after checking that the licence \
         puts no obligation on Hearth's code, add it to ALLOWED_LICENSES in tests/dependencies.rs \
         (CLARIFIED for a crate that only ships a licence file).",
        offenders.join("\n")
    );
    let stale: Vec<_> = CLARIFIED
        .iter()
        .filter(|(name, ..)| !clarified_seen.contains(*name))
        .map(|(name, ..)| *name)
        .collect();
    assert!(
        stale.is_empty(),
        "CLARIFIED lists crates that no longer need it: {stale:?}; remove them"
    );
}

/// Checks a crate that ships only a licence file against `CLARIFIED`.
fn clarify(package: &Value) -> Result<(), String> {
    let name = package["name"].as_str().unwrap_or_default();
    let Some((_, license, phrase)) = CLARIFIED.iter().find(|(n, ..)| *n == name) else {
        return Err(
            "no licence expression in its manifest; read its licence file and add \
                    it to CLARIFIED"
                .to_owned(),
        );
    };
    let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
    let file = package["license_file"].as_str().unwrap_or_default();
    let text = std::fs::read_to_string(manifest.with_file_name("").join(file))
        .map_err(|e| format!("its licence file `{file}` cannot be read: {e}"))?;
    if !text.contains(phrase) {
        return Err(format!(
            "its licence file no longer reads as {license} (no \"{phrase}\"): check it again"
        ));
    }
    if allowed(license) != Ok(true) {
        return Err(format!("CLARIFIED says {license}, which is not allowed"));
    }
    Ok(())
}

/// Whether an SPDX licence expression lets Hearth use the crate under allowed licences only.
fn allowed(expression: &str) -> Result<bool, String> {
    // Old manifests write `MIT/Apache-2.0` for `MIT OR Apache-2.0`.
    let spaced = expression
        .replace('/', " OR ")
        .replace('(', " ( ")
        .replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    let verdict = or_expression(&tokens, &mut at)?;
    if at != tokens.len() {
        return Err(format!("unexpected `{}`", tokens[at]));
    }
    Ok(verdict)
}

fn or_expression(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut any = and_expression(tokens, at)?;
    while tokens.get(*at) == Some(&"OR") {
        *at += 1;
        any |= and_expression(tokens, at)?;
    }
    Ok(any)
}

fn and_expression(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut all = license(tokens, at)?;
    while tokens.get(*at) == Some(&"AND") {
        *at += 1;
        all &= license(tokens, at)?;
    }
    Ok(all)
}

fn license(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let token = *tokens.get(*at).ok_or("the expression ends early")?;
    *at += 1;
    if token == "(" {
        let inner = or_expression(tokens, at)?;
        if tokens.get(*at) != Some(&")") {
            return Err("a `(` is not closed".to_owned());
        }
        *at += 1;
        return Ok(inner);
    }
    if matches!(token, ")" | "OR" | "AND" | "WITH") {
        return Err(format!("unexpected `{token}`"));
    }
    let mut ok = ALLOWED_LICENSES.contains(&token);
    if tokens.get(*at) == Some(&"WITH") {
        let exception = *tokens.get(*at + 1).ok_or("WITH names no exception")?;
        *at += 2;
        ok &= ALLOWED_EXCEPTIONS.contains(&exception);
    }
    Ok(ok)
}

#[test]
fn no_crate_is_built_twice_without_a_reason() {
    // `cargo tree` rather than `cargo metadata`'s resolve graph: the latter also lists optional
    // dependencies that only a weak feature (`dep?/feature`) names, such as reqwest's quinn, which
    // are never compiled. Normal and build dependencies of the default build (emulator included):
    // what `cargo build` compiles, not the test-only crates.
    let tree = cargo(&[
        "tree",
        "--locked",
        "--package",
        "hearth",
        "--edges",
        "normal,build",
        "--target",
        TARGET,
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in tree.lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(version)) = (words.next(), words.next()) {
            versions.entry(name).or_default().insert(version);
        }
    }
    assert!(
        versions.len() > 100,
        "cargo tree listed too few crates to be Hearth's build:\n{tree}"
    );
    let mut problems = Vec::new();
    for (name, found) in &versions {
        let allowed = ALLOWED_DUPLICATES.iter().find(|(n, ..)| n == name);
        let listed = found.iter().copied().collect::<Vec<_>>().join(", ");
        match allowed {
            None if found.len() > 1 => problems.push(format!(
                "  {name} is built in {} versions ({listed}). Fix: make the dependencies agree \
                 (`cargo tree -e normal,build -i {name}@<version>` shows who asks for each; \
                 bump or lower our own requirement, or pick versions of the dependents that \
                 agree); if that cannot be done today, add {name} to ALLOWED_DUPLICATES in \
                 tests/dependencies.rs with the reason",
                found.len()
            )),
            Some((_, count, _)) if found.len() > *count => problems.push(format!(
                "  {name} is built in {} versions ({listed}), ALLOWED_DUPLICATES allows {count}: \
                 make the new one agree, or raise the count and say why",
                found.len()
            )),
            Some((_, count, _)) if found.len() < *count => problems.push(format!(
                "  {name} is built in {} version(s) ({listed}), fewer than the {count} \
                 ALLOWED_DUPLICATES allows: lower the count (or remove the line at 1)",
                found.len()
            )),
            _ => {}
        }
    }
    for (name, ..) in ALLOWED_DUPLICATES {
        if !versions.contains_key(name) {
            problems.push(format!(
                "  {name} is no longer a dependency: remove it from ALLOWED_DUPLICATES"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "duplicated crates in Hearth's build:\n{}",
        problems.join("\n")
    );
}

#[test]
fn license_expressions_are_read_as_spdx_means_them() {
    assert_eq!(allowed("MIT OR Apache-2.0"), Ok(true));
    assert_eq!(allowed("MIT/Apache-2.0"), Ok(true));
    assert_eq!(allowed("GPL-3.0-only"), Ok(false));
    assert_eq!(allowed("MIT OR GPL-3.0-only"), Ok(true), "a choice");
    assert_eq!(allowed("MIT AND GPL-3.0-only"), Ok(false), "both apply");
    assert_eq!(allowed("(MIT OR Apache-2.0) AND Unicode-3.0"), Ok(true));
    assert_eq!(allowed("(MIT OR GPL-2.0) AND (ISC)"), Ok(true));
    assert_eq!(
        allowed("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"),
        Ok(true)
    );
    assert_eq!(allowed("Apache-2.0 WITH Unknown-exception"), Ok(false));
    assert!(allowed("MIT OR").is_err());
    assert!(allowed("(MIT").is_err());
}
