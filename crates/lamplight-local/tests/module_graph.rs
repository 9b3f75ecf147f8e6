//! No import loop inside any crate of the workspace: between the top-level modules of a crate,
//! references (`use crate::x`, `crate::x::…` paths, `super::` paths that climb to a sibling
//! top-level module, names the crate root re-exports from a module) must form no cycle.
//!
//! A module's own children belong to it: `src/a/b.rs` using `crate::a::c` is not a reference
//! between modules, and the crate root (`lib.rs`, `main.rs`) may name every module. Comments
//! and string literals are skipped, so doc links and messages are not references.
//!
//! Only std: it reads the sources, it does not compile them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

#[test]
fn no_import_loop_inside_any_crate() {
    let mut found = Vec::new();
    for krate in workspace_crates() {
        let graph = module_graph(&krate.src);
        for cycle in cycles(&graph) {
            let members: Vec<String> = loop_members(&graph, &cycle[0]).into_iter().collect();
            found.push(format!(
                "{} (modules in the loop: {})",
                describe(&krate.name, &cycle),
                members.join(", ")
            ));
        }
    }
    assert!(
        found.is_empty(),
        "import loops between top-level modules:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_loop_is_found_and_named() {
    let dir = tempdir();
    let src = dir.join("src");
    fs::create_dir_all(src.join("a")).expect("mkdir");
    let write = |path: &str, text: &str| fs::write(src.join(path), text).expect("write");
    write("lib.rs", "mod a; mod b; mod c; pub use c::Thing;");
    // `a` reaches `b` through a child and a grouped import, `b` reaches `c` through `super`,
    // and `c` names `a` only through what the root re-exports... from `a`.
    write("a.rs", "mod inner;");
    write(
        "a/inner.rs",
        "use crate::{b::{self, X}, a::y}; use super::super::a::z;",
    );
    write(
        "b.rs",
        "// crate::a in a comment is no reference\nfn f() { let s = \"crate::a\"; super::c::go(); }",
    );
    write("c.rs", "pub struct Thing; fn g() { crate::Back::new(); }");
    let graph = module_graph(&src);
    assert!(cycles(&graph).is_empty(), "{graph:?}");

    write(
        "lib.rs",
        "mod a; mod b; mod c; pub use a::{Back, Other as O};",
    );
    let graph = module_graph(&src);
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{graph:?}");
    assert!(same_cycle(&["a", "b", "c"], &found[0]), "{found:?}");
    assert_eq!(describe("demo", &found[0]), "demo: a -> b -> c -> a");

    // Inline modules count like files: `super::` in `mod tests {}` inside `c` is `c` itself.
    write("lib.rs", "mod a; mod b; mod c;");
    write(
        "c.rs",
        "mod tests { use super::*; use super::super::c::x; }",
    );
    assert!(cycles(&module_graph(&src)).is_empty());
    let _ = fs::remove_dir_all(&dir);
}

struct Crate {
    name: String,
    src: PathBuf,
}

/// Every crate of the workspace with a `src/`: `crates/*`, `examples/*` and `xtask`.
fn workspace_crates() -> Vec<Crate> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crates = manifest
        .parent()
        .expect("crates/ holds this crate")
        .to_owned();
    let root = crates
        .parent()
        .expect("the workspace holds crates/")
        .to_owned();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for parent in [crates.clone(), root.join("examples")] {
        if let Ok(entries) = fs::read_dir(&parent) {
            dirs.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    dirs.push(root.join("xtask"));
    dirs.sort();
    let found: Vec<Crate> = dirs
        .into_iter()
        .filter(|d| d.join("src").is_dir())
        .map(|d| Crate {
            name: d.strip_prefix(&root).unwrap_or(&d).display().to_string(),
            src: d.join("src"),
        })
        .collect();
    assert!(
        found.iter().any(|c| c.name.ends_with("lamplight-local")),
        "the workspace was not found from {}",
        crates.display()
    );
    found
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Edges between the top-level modules of the crate whose sources are in `src`.
fn module_graph(src: &Path) -> Graph {
    let root_file = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.is_file());
    let root_text = root_file
        .as_ref()
        .and_then(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let root_tokens = tokenize(&root_text);
    let paths = path_attributes(&root_text);
    // Top-level modules: files and directories beside the root, under their `#[path]` names.
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(src)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if matches!(file, "lib.rs" | "main.rs" | "bin") {
            continue;
        }
        let stem = file.strip_suffix(".rs").unwrap_or(file).to_owned();
        if !(path.is_dir() || file.ends_with(".rs")) {
            continue;
        }
        let name = paths.get(file).cloned().unwrap_or(stem);
        modules.entry(name).or_default().extend(rust_files(&path));
    }
    let reexports = reexports(&root_tokens, &modules);
    let mut graph: Graph = modules
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (module, files) in &modules {
        for file in files {
            let Ok(text) = fs::read_to_string(file) else {
                continue;
            };
            let depth = file_depth(src, file);
            for target in references(&tokenize(&text), depth) {
                let target = match modules.contains_key(&target) {
                    true => Some(target),
                    false => reexports.get(&target).cloned(),
                };
                if let Some(target) = target
                    && &target != module
                {
                    graph.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    graph
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
    {
        let p = entry.path();
        if p.is_dir() {
            files.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

/// How many modules deep `file` is: `src/a.rs` and `src/a/mod.rs` are 1, `src/a/b.rs` 2.
fn file_depth(src: &Path, file: &Path) -> usize {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let parts = rel.components().count();
    match rel.file_name().and_then(|f| f.to_str()) {
        Some("mod.rs") => parts - 1,
        _ => parts,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Rust source as identifiers and punctuation, without comments, strings and char literals.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r'))
            && matches!(at(i + usize::from(c == 'b') + 1), '"' | '#')
        {
            // A raw string: r"..", r#".."#, br"..".
            let mut j = i + usize::from(c == 'b') + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                // `r#ident`, a raw identifier.
                tokens.push(Token::Ident(chars[i..j].iter().collect()));
                i = j;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#') {
                    j += hashes + 1;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c == 'b' && at(i + 1) == '"' {
            i = skip_string(&chars, i + 2);
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            if at(start) == '\\' {
                // An escaped char literal: skip to its closing quote.
                let mut j = start + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if at(start + 1) == '\'' {
                i = start + 2;
            } else {
                // A lifetime or label: its name is not a path.
                let mut j = start;
                while is_ident(at(j)) {
                    j += 1;
                }
                i = j.max(i + 1);
            }
        } else if is_ident(c) || (c == '$' && is_ident(at(i + 1))) {
            let start = if c == '$' { i + 1 } else { i };
            let mut j = start;
            while is_ident(at(j)) {
                j += 1;
            }
            tokens.push(Token::Ident(chars[start..j].iter().collect()));
            i = j;
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

/// `#[path = "file.rs"] mod name;` in the crate root: file name to module name (the off
/// twin of a feature-gated module is that module).
fn path_attributes(root: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut rest = root;
    while let Some(at) = rest.find("#[path") {
        rest = &rest[at + 6..];
        let Some(open) = rest.find('"') else { break };
        let Some(len) = rest[open + 1..].find('"') else {
            break;
        };
        let file = &rest[open + 1..open + 1 + len];
        rest = &rest[open + 1 + len..];
        let tokens = tokenize(rest.split(';').next().unwrap_or(""));
        if let Some(i) = tokens.iter().position(|t| *t == Token::Ident("mod".into()))
            && let Some(module) = ident(&tokens, i + 1)
        {
            map.insert(file.to_owned(), module.to_owned());
        }
    }
    map
}

/// Top-level names the crate root re-exports (`pub use a::{X, Y as Z}`), to the module they
/// come from: `crate::X` is a reference to `a`.
fn reexports(
    tokens: &[Token],
    modules: &BTreeMap<String, Vec<PathBuf>>,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < tokens.len() {
        if ident(tokens, i) != Some("use") {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if matches!(ident(tokens, j), Some("crate" | "self"))
            && tokens.get(j + 1) == Some(&Token::PathSep)
        {
            j += 2;
        }
        let Some(module) = ident(tokens, j).filter(|m| modules.contains_key(*m)) else {
            i += 1;
            continue;
        };
        // Every name this `use` brings in: the last identifier of each leaf (or its alias).
        let mut k = j + 1;
        let mut last = None;
        while k < tokens.len() && tokens[k] != Token::Punct(';') {
            match &tokens[k] {
                Token::Ident(s) if s != "as" && s != "self" => last = Some(s.clone()),
                Token::Punct(',' | '}') => {
                    if let Some(name) = last.take() {
                        map.insert(name, module.to_owned());
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if let Some(name) = last {
            map.insert(name, module.to_owned());
        }
        i = k;
    }
    map
}

/// The top-level names a file at `depth` refers to through `crate::` or a `super::` chain that
/// reaches the crate root.
fn references(tokens: &[Token], depth: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    // Inline modules (`mod tests { .. }`) open a level `super::` climbs out of.
    let mut braces = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => braces += 1,
            Token::Punct('}') => {
                braces = braces.saturating_sub(1);
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
            }
            Token::Ident(s)
                if s == "mod"
                    && ident(tokens, i + 1).is_some()
                    && tokens.get(i + 2) == Some(&Token::Punct('{')) =>
            {
                inline.push(braces);
            }
            _ => {}
        }
        let at_root = match ident(tokens, i) {
            Some("crate") if tokens.get(i + 1) == Some(&Token::PathSep) => Some(i + 2),
            Some("super") if i == 0 || tokens[i - 1] != Token::PathSep => {
                let mut j = i;
                let mut climbs = 0;
                while ident(tokens, j) == Some("super")
                    && tokens.get(j + 1) == Some(&Token::PathSep)
                {
                    climbs += 1;
                    j += 2;
                }
                (climbs == depth + inline.len() && climbs > 0).then_some(j)
            }
            _ => None,
        };
        if let Some(j) = at_root {
            match &tokens.get(j) {
                Some(Token::Ident(name)) => {
                    found.insert(name.clone());
                }
                Some(Token::Punct('{')) => found.extend(group_heads(tokens, j)),
                _ => {}
            }
        }
        i += 1;
    }
    found
}

/// The first segment of every path in the `{ .. }` group starting at `open`.
fn group_heads(tokens: &[Token], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    for token in &tokens[open..] {
        match token {
            Token::Punct('{') => {
                depth += 1;
                expect_head = depth == 1;
            }
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Punct(',') if depth == 1 => expect_head = true,
            Token::Ident(name) if expect_head && depth == 1 => {
                heads.push(name.clone());
                expect_head = false;
            }
            _ => {}
        }
    }
    heads
}

/// One loop per strongly connected component of more than one module: the shortest cycle
/// through its smallest module (the rest of the component is named by [`loop_members`]).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        // The shortest path from `start` back to itself, breadth first.
        let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing = None;
        while let Some(at) = queue.pop_front() {
            if graph.get(at).is_some_and(|next| next.contains(start)) {
                closing = Some(at);
                break;
            }
            for next in graph.get(at).into_iter().flatten() {
                if !parent.contains_key(next) && next != start {
                    parent.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        let Some(mut at) = closing else { continue };
        let mut cycle = vec![at.clone()];
        while at != start {
            at = parent[at];
            cycle.push(at.clone());
        }
        cycle.reverse();
        seen.extend(loop_members(graph, start));
        found.push(cycle);
    }
    found
}

/// Every module in a loop with `start`: those it reaches that reach it back.
fn loop_members(graph: &Graph, start: &String) -> BTreeSet<String> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(at) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    reach(start)
        .into_iter()
        .filter(|m| reach(m).contains(start))
        .collect()
}

fn same_cycle<S: AsRef<str>, T: AsRef<str>>(a: &[S], b: &[T]) -> bool {
    a.len() == b.len()
        && (0..b.len()).any(|shift| {
            a.iter()
                .zip(b.iter().cycle().skip(shift))
                .all(|(x, y)| x.as_ref() == y.as_ref())
        })
}

fn describe(krate: &str, cycle: &[String]) -> String {
    let mut text = format!("{krate}: {}", cycle.join(" -> "));
    if let Some(first) = cycle.first() {
        text.push_str(&format!(" -> {first}"));
    }
    text
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lamplight-module-graph-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}
