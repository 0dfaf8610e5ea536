//! The layering invariant, checked: every module may use only the modules on the lines
//! below its own in the `## Layers` list of `ARCHITECTURE.md`, so the list there is the
//! rule and cannot drift from the code. Every `crate::…` and `super::…` path in
//! `core/src/` and `server/src/` (outside comments) is resolved to the listed module it names; one that points up, or
//! sideways to a peer on the same line, is reported with its file and line. And the
//! rooms stay small: a function of more than a hundred lines says why in its doc comment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The listed modules and the layer of each (0 is the bottom).
struct Layers {
    level: BTreeMap<String, usize>,
}

impl Layers {
    /// The `text` block after `## Layers`: one layer per line, top first.
    fn parse(architecture: &str) -> Layers {
        let section = architecture.split("\n## Layers").nth(1).expect("ARCHITECTURE.md has a `## Layers` section");
        let block = section.split("```text\n").nth(1).expect("the Layers section has a ```text block");
        let lines: Vec<&str> = block.split("\n```").next().unwrap().lines().filter(|l| !l.trim().is_empty()).collect();
        let mut level = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            for module in line.split_whitespace() {
                assert!(level.insert(module.to_string(), lines.len() - 1 - i).is_none(), "{module} is listed twice");
            }
        }
        Layers { level }
    }

    /// The listed module that `path` (segments after `crate`) lies in: the longest listed prefix.
    fn owner(&self, path: &[String]) -> Option<&str> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find_map(|p| self.level.get_key_value(&p).map(|(k, _)| k.as_str()))
    }
}

/// The module path of a source file: `stages/mine/reading.rs` → `stages::mine::reading`,
/// `stages/mod.rs` → `stages`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    if file != "mod.rs" {
        parts.push(file.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The `crate::`/`super::` paths of one line, resolved to absolute module paths (a
/// `{…}` group counts as the module it is in).
fn paths_in(line: &str, module: &[String]) -> Result<Vec<Vec<String>>, String> {
    let mut found = Vec::new();
    let code = line.split("//").next().unwrap_or_default();
    for (start, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        // Only whole path starts: not `self_harness_crate::` or `xsuper::`.
        if code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest: String =
            code[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{').collect();
        let path = rest.split("::{").next().unwrap_or_default();
        let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
        let mut resolved: Vec<String> = module.to_vec();
        if segments.peek() == Some(&"crate") {
            resolved.clear();
            segments.next();
        } else {
            while segments.peek() == Some(&"super") {
                segments.next();
                if resolved.pop().is_none() {
                    return Err(format!("`{rest}` leaves the crate"));
                }
            }
        }
        resolved.extend(segments.map(str::to_string));
        if resolved.is_empty() {
            return Err(format!("`{rest}…`: name one module per path from the crate root"));
        }
        found.push(resolved);
    }
    Ok(found)
}

/// Every upward or sideways use in the sources under `src`, as "file:line: …".
fn violations(layers: &Layers, src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for entry in walk(src) {
        let relative = entry.strip_prefix(src).unwrap();
        if relative == Path::new("lib.rs") || relative == Path::new("main.rs") {
            continue;
        }
        let mut module = module_of(relative);
        let Some(own) = layers.owner(&module) else {
            problems.push(format!(
                "{}: module {} is in no layer of ARCHITECTURE.md",
                relative.display(),
                module.join("::")
            ));
            continue;
        };
        let text = std::fs::read_to_string(&entry).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // The inline test module runs to the end of its file, as rustfmt leaves it.
            if line.starts_with("mod tests {") || line.starts_with("pub(super) mod tests {") {
                module.push("tests".into());
            }
            let place = format!("{}:{}", relative.display(), n + 1);
            match paths_in(line, &module) {
                Err(e) => problems.push(format!("{place}: {e}")),
                Ok(paths) => {
                    for path in paths {
                        let Some(used) = layers.owner(&path) else { continue };
                        let (a, b) = (layers.level[own], layers.level[used]);
                        if used != own && b >= a {
                            let how = if a == b { "a peer on the same layer" } else { "a higher layer" };
                            problems.push(format!("{place}: {own} uses {used}, {how} (`{}`)", path.join("::")));
                        }
                    }
                }
            }
        }
    }
    problems
}

/// The longest a function may be without saying why.
const LONGEST: usize = 100;

/// Functions in `src` longer than [`LONGEST`] lines whose doc comment does not say why
/// ("Long because …"): `file:line name (n lines)`. A function is its `fn` line to the `}`
/// at the same indentation, as rustfmt writes them.
fn long_functions(src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for file in walk(src) {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            let indent = &line[..line.len() - code.len()];
            let signature = ["", "pub ", "pub(crate) ", "pub(super) "]
                .iter()
                .flat_map(|vis| ["fn ", "async fn "].map(|f| format!("{vis}{f}")))
                .find(|start| code.starts_with(start.as_str()));
            let Some(signature) = signature else { continue };
            if code.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            let Some(length) = lines[i..].iter().position(|l| *l == close) else { continue };
            if length < LONGEST {
                continue;
            }
            let doc: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .skip_while(|l| l.starts_with("#["))
                .take_while(|l| l.starts_with("///"))
                .collect();
            if !doc.iter().any(|l| l.contains("Long because")) {
                let name = code[signature.len()..].split(['(', '<']).next().unwrap_or_default();
                let relative = file.strip_prefix(src).unwrap_or(&file).display();
                found.push(format!("src/{relative}:{} {name} ({} lines)", i + 1, length + 1));
            }
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The source folders of the two crates: the engine, and the front ends above it (which
/// name the engine's modules by the same `crate::…` paths through their re-exports).
fn sources() -> [PathBuf; 2] {
    [root().join("core/src"), root().join("server/src")]
}

#[test]
fn imports_only_run_down_the_layers_of_architecture_md() {
    let layers = Layers::parse(&std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap());
    let problems: Vec<String> = sources().iter().flat_map(|src| violations(&layers, src)).collect();
    assert!(problems.is_empty(), "imports against the layers of ARCHITECTURE.md:\n{}", problems.join("\n"));
    // Every module of either crate has its line.
    for src in sources() {
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        for module in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
            assert!(layers.owner(&[module.trim_end_matches(';').to_string()]).is_some(), "{module} has no layer");
        }
    }
}

#[test]
fn no_function_is_over_a_hundred_lines_without_saying_why() {
    let long: Vec<String> = sources().iter().flat_map(|src| long_functions(src)).collect();
    assert!(
        long.is_empty(),
        "split these, or say in the doc comment why each is long (\"Long because …\"):\n{}",
        long.join("\n")
    );
    // The check finds one, and takes a reason.
    let src = tempfile::tempdir().unwrap();
    let body = "    let x = 1;\n".repeat(LONGEST);
    std::fs::write(src.path().join("a.rs"), format!("/// Does a.\npub fn a() {{\n{body}}}\n")).unwrap();
    assert_eq!(long_functions(src.path()), [format!("src/a.rs:2 a ({} lines)", LONGEST + 2)]);
    std::fs::write(
        src.path().join("a.rs"),
        format!("/// Does a. Long because it must.\n#[inline]\npub fn a() {{\n{body}}}\n"),
    )
    .unwrap();
    assert!(long_functions(src.path()).is_empty());
}

#[test]
fn an_upward_or_sideways_import_is_reported_with_its_place() {
    let layers =
        Layers::parse("# A\n\n## Layers\n\n```text\ncli\nstages::validate\nstages::mine\nstages\nstore trace\n```\n");
    let src = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| {
        let path = src.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("store.rs", "use crate::trace::Trace;\n// crate::cli in a comment is fine\nuse crate::stages::Context;\n");
    write("stages/mod.rs", "pub mod mine;\nuse crate::store::Store;\n");
    write("stages/mine/reading.rs", "use super::Weakness;\nuse super::super::validate::Decision;\n");
    write("stages/validate/mod.rs", "use crate::stages::mine::Weakness;\nuse super::Context;\n");
    write("cli/mod.rs", "use crate::{store, cli};\n");
    let problems = violations(&layers, src.path());
    assert_eq!(
        problems,
        [
            "cli/mod.rs:1: `crate::{store…`: name one module per path from the crate root",
            "stages/mine/reading.rs:2: stages::mine uses stages::validate, a higher layer \
             (`stages::validate::Decision`)",
            "store.rs:1: store uses trace, a peer on the same layer (`trace::Trace`)",
            "store.rs:3: store uses stages, a higher layer (`stages::Context`)",
        ]
    );
}
