//! The layers of `src/` (the README's Development section), checked on the source text:
//! - Discord's libraries (`serenity`, `poise`) are used only under `src/discord/`;
//! - SQL (`sqlx::query*`, SQL statements in string literals) is written only under `src/db/`;
//! - `src/domain/` is pure: it imports nothing else of the crate, nor sqlx, tokio, serenity or
//!   poise;
//! - imports point down the list in `src/lib.rs` (`LAYERS` below): no module imports one above
//!   it, so there is no upward arrow and no circle between layers.
//!
//! Comments and string literals do not count as use (a log filter may name `serenity=warn`).
//! The binaries under `src/bin/` are tools, not the library, and are not checked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Exceptions, each with its reason: (rule, file, what, why), e.g.
/// `(Rule::DomainIsPure, "src/domain/settings.rs", "crate::config", "why it must stay for now")`.
/// An exception that no longer occurs fails the test, so this list only shrinks.
const KNOWN_EXCEPTIONS: &[(Rule, &str, &str, &str)] = &[];

/// The layers of `src/lib.rs`, top first: a module may import its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["app", "cli", "demo"],
    &["discord"],
    &["web"],
    &["scheduler"],
    &["features"],
    &["outbox"],
    &["db"],
    &["config", "error", "telemetry", "instance_lock"],
    &["domain"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    /// `serenity` / `poise` outside `src/discord/`.
    DiscordOnlyInDiscord,
    /// SQL outside `src/db/`.
    SqlOnlyInDb,
    /// `src/domain/` imports something that is not pure.
    DomainIsPure,
    /// A module imports one of a layer above its own.
    ImportsPointDown,
}

impl Rule {
    fn explain(self) -> &'static str {
        match self {
            Rule::DiscordOnlyInDiscord => {
                "serenity and poise are used only under src/discord/: give the code Hearth's own \
                 types (ids as u64, bodies as JSON) and let src/discord/ translate"
            }
            Rule::SqlOnlyInDb => {
                "SQL is written only under src/db/: add a function to the db module of that table \
                 and call it"
            }
            Rule::DomainIsPure => {
                "src/domain/ is pure (no I/O, no config, no Discord): pass what it needs as \
                 arguments, or move the type it needs into src/domain/"
            }
            Rule::ImportsPointDown => {
                "imports point down the list in src/lib.rs: move the shared piece down to the \
                 lower layer (or to src/domain/ if it is pure), or pass it in as a value"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    rule: Rule,
    file: String,
    line: usize,
    what: String,
}

/// Start of an SQL statement in a string literal (upper case, as the store writes them).
const SQL_KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "PRAGMA", "WITH",
];

/// sqlx's entry points for SQL text.
const SQLX_SQL: &[&str] = &[
    "query",
    "query_as",
    "query_scalar",
    "query_with",
    "query_as_with",
    "query_scalar_with",
    "query_as_unchecked",
    "query_scalar_unchecked",
    "query_unchecked",
    "query_file",
    "query_file_as",
    "query_file_scalar",
    "raw_sql",
    "QueryBuilder",
];

#[test]
fn layers_are_kept() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 20, "src/ has Rust files: {files:?}");
    let mut found = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .expect("under the repository")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("src/bin/") {
            continue;
        }
        let source = std::fs::read_to_string(path).expect("readable source");
        found.extend(check(&rel, &source));
    }

    let mut used = BTreeSet::new();
    let mut unexpected = Vec::new();
    for v in &found {
        match KNOWN_EXCEPTIONS
            .iter()
            .position(|(rule, file, what, _)| *rule == v.rule && *file == v.file && *what == v.what)
        {
            Some(i) => {
                used.insert(i);
            }
            None => unexpected.push(format!(
                "  {}:{}: {} ({})",
                v.file,
                v.line,
                v.what,
                v.rule.explain()
            )),
        }
    }
    let stale: Vec<String> = KNOWN_EXCEPTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, (rule, file, what, _))| {
            format!("  {rule:?} {file} {what}: no longer occurs; remove this exception")
        })
        .collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "layer boundaries:\n{}{}{}",
        unexpected.join("\n"),
        if unexpected.is_empty() || stale.is_empty() {
            ""
        } else {
            "\n"
        },
        stale.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The violations in one file (`rel` is its path from the repository root).
fn check(rel: &str, source: &str) -> Vec<Violation> {
    let tokens = lex(source);
    let mut out = Vec::new();
    let mut report = |rule, line, what: &str| {
        out.push(Violation {
            rule,
            file: rel.to_owned(),
            line,
            what: what.to_owned(),
        });
    };
    let in_discord = rel.starts_with("src/discord/");
    let in_db = rel.starts_with("src/db/");
    let in_domain = rel.starts_with("src/domain/");

    for token in &tokens {
        match token.kind {
            Kind::Ident => {
                let name = token.text.as_str();
                if matches!(name, "serenity" | "poise") {
                    if !in_discord {
                        report(Rule::DiscordOnlyInDiscord, token.line, name);
                    }
                    if in_domain {
                        report(Rule::DomainIsPure, token.line, name);
                    }
                } else if in_domain && matches!(name, "sqlx" | "tokio") {
                    report(Rule::DomainIsPure, token.line, name);
                }
            }
            Kind::Str if !in_db => {
                let text = token.text.trim_start();
                let sql = SQL_KEYWORDS.iter().find(|k| {
                    text.strip_prefix(**k).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with(char::is_whitespace)
                    })
                });
                if let Some(keyword) = sql {
                    report(Rule::SqlOnlyInDb, token.line, &format!("\"{keyword} …\""));
                }
            }
            _ => {}
        }
    }

    let module = module_of(rel);
    if let Some(top) = module.first() {
        if layer(top).is_none() {
            report(
                Rule::ImportsPointDown,
                1,
                &format!("module `{top}` is in no layer: add it to LAYERS and to src/lib.rs"),
            );
        }
    }
    for (path, line) in paths(&tokens) {
        if !in_db
            && path.first().is_some_and(|s| s == "sqlx")
            && path.iter().any(|s| SQLX_SQL.contains(&s.as_str()))
        {
            report(Rule::SqlOnlyInDb, line, &path.join("::"));
        }
        let Some(target) = resolve(&module, &path) else {
            continue;
        };
        let Some(top) = target.first() else { continue };
        if in_domain && top != "domain" {
            report(Rule::DomainIsPure, line, &format!("crate::{top}"));
        }
        let from = module.first().and_then(|m| layer(m));
        if let (false, Some(from), Some(to)) = (in_domain, from, layer(top)) {
            if to < from {
                report(Rule::ImportsPointDown, line, &format!("crate::{top}"));
            }
        }
    }
    out
}

/// The module path of a file: `src/domain/settings.rs` → `["domain", "settings"]`.
fn module_of(rel: &str) -> Vec<String> {
    let inner = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut module: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if module
        .last()
        .is_some_and(|l| matches!(l.as_str(), "mod" | "lib" | "main"))
    {
        module.pop();
    }
    module
}

/// Where a path starting with `crate`, `super` or `self` points, from the crate root; `None`
/// for paths that start elsewhere (an external crate, a local name).
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String> = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "super" | "self" => module.to_vec(),
        _ => return None,
    };
    let mut rest = &path[usize::from(path[0] == "crate")..];
    while let Some(first) = rest.first() {
        match first.as_str() {
            "super" => {
                at.pop();
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    at.extend(rest.iter().cloned());
    Some(at)
}

/// Every path in the code (`a::b::c`), with `use` groups expanded (`a::{b, c::d}` gives `a::b`
/// and `a::c::d`), and the line it starts on.
fn paths(tokens: &[Token]) -> Vec<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts = tokens[i].kind == Kind::Ident
            && tokens.get(i + 1).is_some_and(|t| t.text == "::")
            && (i == 0 || tokens[i - 1].text != "::");
        if starts {
            i = path_at(tokens, i, &[], &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads the path at `i` (after `prefix`), pushes what it names, and returns the index after it.
fn path_at(
    tokens: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    let line = tokens.get(i).map_or(0, |t| t.line);
    let mut path = prefix.to_vec();
    while let Some(token) = tokens.get(i) {
        match token.kind {
            Kind::Ident => path.push(token.text.clone()),
            _ if token.text == "{" => {
                // A group: each comma-separated item continues the path.
                i += 1;
                while let Some(t) = tokens.get(i) {
                    match t.text.as_str() {
                        "}" => return i + 1,
                        "," => i += 1,
                        _ if t.kind == Kind::Ident => i = path_at(tokens, i, &path, out),
                        _ => i += 1,
                    }
                }
                return i;
            }
            _ => break,
        }
        i += 1;
        if tokens.get(i).is_some_and(|t| t.text == "::") {
            i += 1;
        } else {
            break;
        }
    }
    if path.len() > prefix.len() {
        out.push((path, line));
    }
    i
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Str,
    Punct,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
}

/// A small Rust lexer: identifiers, string literals (their text) and punctuation (`::` as one
/// token), with comments, char literals, lifetimes and numbers left out.
fn lex(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            let start = line;
            let (text, end) = quoted(&chars, i + 1, &mut line);
            tokens.push(Token {
                kind: Kind::Str,
                text,
                line: start,
            });
            i = end;
        } else if c == '\'' {
            i = char_or_lifetime(&chars, i);
        } else if c.is_ascii_digit() {
            while i < chars.len() && (ident_char(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if ident_char(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = chars.get(i).copied();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && matches!(after, Some('"' | '#')) {
                let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                if chars.get(i + hashes) == Some(&'"') {
                    let begin = line;
                    let (text, end) = raw(&chars, i + hashes + 1, hashes, &mut line);
                    tokens.push(Token {
                        kind: Kind::Str,
                        text,
                        line: begin,
                    });
                    i = end;
                    continue;
                }
                if word == "r" && hashes == 1 {
                    // A raw identifier: r#type.
                    let s = i + 1;
                    i = s;
                    while i < chars.len() && ident_char(chars[i]) {
                        i += 1;
                    }
                    tokens.push(Token {
                        kind: Kind::Ident,
                        text: chars[s..i].iter().collect(),
                        line,
                    });
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && after == Some('"') {
                let begin = line;
                let (text, end) = quoted(&chars, i + 1, &mut line);
                tokens.push(Token {
                    kind: Kind::Str,
                    text,
                    line: begin,
                });
                i = end;
                continue;
            }
            if word == "b" && after == Some('\'') {
                i = char_or_lifetime(&chars, i);
                continue;
            }
            tokens.push(Token {
                kind: Kind::Ident,
                text: word,
                line,
            });
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                kind: Kind::Punct,
                text: "::".to_owned(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                kind: Kind::Punct,
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// The text of a `"…"` literal whose content starts at `i`, and the index after its closing quote.
fn quoted(chars: &[char], mut i: usize, line: &mut usize) -> (String, usize) {
    let mut text = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                text.push(chars[i]);
                if let Some(&c) = chars.get(i + 1) {
                    if c == '\n' {
                        *line += 1;
                    }
                    text.push(c);
                }
                i += 2;
            }
            '"' => return (text, i + 1),
            c => {
                if c == '\n' {
                    *line += 1;
                }
                text.push(c);
                i += 1;
            }
        }
    }
    (text, i)
}

/// The text of an `r#"…"#` literal whose content starts at `i`.
fn raw(chars: &[char], mut i: usize, hashes: usize, line: &mut usize) -> (String, usize) {
    let mut text = String::new();
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return (text, i + 1 + hashes);
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i)
}

/// Skips a char literal (`'a'`, `'\n'`, the `'x'` of `b'x'`) or a lifetime (`'a`) whose quote
/// is at `i`.
fn char_or_lifetime(chars: &[char], i: usize) -> usize {
    match chars.get(i + 1) {
        Some('\\') => {
            // Past the backslash and the escaped character (which may be a quote).
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        Some(_) if chars.get(i + 2) == Some(&'\'') => i + 3,
        _ => {
            // A lifetime or label: the quote, then its name.
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            j
        }
    }
}

#[test]
fn the_checker_sees_what_it_should_and_nothing_else() {
    let source = r##"
        //! Mentions serenity in a doc comment, and "SELECT" in prose.
        use crate::{config::GuildDefaults, domain::template};
        use super::super::db;
        /* poise /* nested */ serenity */
        fn f<'a>(x: &'a str) -> char {
            let _ = "serenity=warn";
            let _ = r#"  SELECT 1 FROM "t""#;
            let _ = sqlx::query("x");
            let _ = "Update your settings";
            let _: poise::Command = todo!();
            let q = '"'; let _ = '\''; let _ = b'"';
            tokio::spawn(async {});
            q
        }
    "##;
    let found: Vec<(Rule, usize, String)> = check("src/domain/x.rs", source)
        .into_iter()
        .map(|v| (v.rule, v.line, v.what))
        .collect();
    let expected = vec![
        (Rule::SqlOnlyInDb, 8, "\"SELECT …\"".to_owned()),
        (Rule::DomainIsPure, 9, "sqlx".to_owned()),
        (Rule::DiscordOnlyInDiscord, 11, "poise".to_owned()),
        (Rule::DomainIsPure, 11, "poise".to_owned()),
        (Rule::DomainIsPure, 13, "tokio".to_owned()),
        (Rule::DomainIsPure, 3, "crate::config".to_owned()),
        (Rule::DomainIsPure, 4, "crate::db".to_owned()),
        (Rule::SqlOnlyInDb, 9, "sqlx::query".to_owned()),
    ];
    assert_eq!(found, expected);
    // The same code is fine where it belongs, as far as each rule goes.
    assert!(check("src/db/x.rs", "fn f() { sqlx::query(\"SELECT 1\"); }").is_empty());
    assert!(check(
        "src/discord/x.rs",
        "use poise::serenity_prelude as serenity;"
    )
    .is_empty());
    let layering: Vec<(usize, String)> = check(
        "src/outbox/posts.rs",
        "use crate::db::Pool;\nuse super::Outbox;\nuse crate::{domain::clock, features::welcome};\n\
         fn f() { super::super::scheduler::run(); }",
    )
    .into_iter()
    .map(|v| (v.line, v.what))
    .collect();
    assert_eq!(
        layering,
        [
            (3, "crate::features".to_owned()),
            (4, "crate::scheduler".to_owned())
        ]
    );
    assert_eq!(
        check("src/newthing.rs", "").len(),
        1,
        "a module in no layer"
    );
}
