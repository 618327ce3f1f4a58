//! The kernel's modules form layers, and every import points down: a module uses only modules of
//! its own layer or below, and no two files import each other, directly or round a circle. Read
//! from the sources (`use crate::…`, `crate::…` paths and `super::…`), test modules left out (a
//! test may reach up for fixtures).

use keyhive::testkit::workspace_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first: a module's top-level name and its layer.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("model", 1),
    ("schema", 1),
    ("config", 1),
    ("telemetry", 1),
    ("secrets", 1),
    ("dns", 1),
    ("aws", 2),
    ("store", 3),
    ("auth", 4),
    ("jobs", 4),
    ("change", 5),
    ("bootstrap", 6),
    ("http", 7),
    ("testkit", 8),
    ("lib", 8),
];

/// Every `.rs` file of the kernel, by its module path (`store/dynamo`, `auth`, `lib`), with its
/// product source (up to its `#[cfg(test)]` module).
fn kernel_files() -> BTreeMap<String, String> {
    let src = workspace_root().join("shared/src");
    let mut files = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("shared/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&src).expect("under src").with_extension("");
                let mut name = relative.to_string_lossy().replace('\\', "/");
                if let Some(parent) = name.strip_suffix("/mod") {
                    name = parent.to_string();
                }
                let text = std::fs::read_to_string(&path).expect("source");
                let product = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                files.insert(name, product);
            }
        }
    }
    files
}

/// The kernel files a file's source names: the longest module path that is a file, for each
/// `crate::a::b…` and `super::x…` it mentions.
fn imports(name: &str, source: &str, files: &BTreeMap<String, String>) -> BTreeSet<String> {
    let resolve = |segments: Vec<&str>| -> Option<String> {
        (1..=segments.len()).rev().map(|n| segments[..n].join("/")).find(|candidate| files.contains_key(candidate))
    };
    let words: Vec<&str> = source.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
    let parent = name.rsplit_once('/').map(|(p, _)| p);
    let mut found = BTreeSet::new();
    for word in words {
        let segments: Vec<&str> = word.split("::").filter(|s| !s.is_empty()).collect();
        let target = match segments.first() {
            Some(&"crate") => resolve(segments[1..].to_vec()),
            Some(&"super") => match parent {
                Some(parent) => {
                    let mut path: Vec<&str> = parent.split('/').collect();
                    path.extend(&segments[1..]);
                    resolve(path)
                }
                // `super` of a top-level module's file is the crate root.
                None => resolve(segments[1..].to_vec()),
            },
            _ => None,
        };
        if let Some(target) = target.filter(|t| t != name) {
            found.insert(target);
        }
    }
    found
}

fn layer_of(name: &str) -> u32 {
    let top = name.split('/').next().unwrap_or(name);
    LAYERS
        .iter()
        .find(|(module, _)| *module == top)
        .map(|(_, layer)| *layer)
        .unwrap_or_else(|| panic!("shared/src/{name}.rs is in no layer: give its module one in LAYERS"))
}

#[test]
fn every_kernel_import_points_down_and_no_files_import_each_other() {
    let files = kernel_files();
    assert!(files.len() > 20, "read the kernel: {} files", files.len());
    let graph: BTreeMap<String, BTreeSet<String>> =
        files.iter().map(|(name, source)| (name.clone(), imports(name, source, &files))).collect();
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if layer_of(to) > layer_of(from) {
                upward.push(format!("{from} (layer {}) -> {to} (layer {})", layer_of(from), layer_of(to)));
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up:\n{}", upward.join("\n"));

    // No circle among files: a depth-first walk never meets a file on its own path.
    fn walk<'a>(
        at: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            return Some(path[start..].iter().map(|s| s.to_string()).chain([at.to_string()]).collect());
        }
        if !done.insert(at) {
            return None;
        }
        path.push(at);
        for next in graph.get(at).into_iter().flatten() {
            if let Some(circle) = walk(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        if let Some(circle) = walk(start, &graph, &mut Vec::new(), &mut done) {
            panic!("files that import each other: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_layer_check_sees_an_upward_import_and_a_circle() {
    let files: BTreeMap<String, String> = [("store/items", ""), ("auth", ""), ("model", "")]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    let found = imports("store/items", "use crate::auth::KeyRecord; use super::items::string_attr;", &files);
    assert!(found.contains("auth") && layer_of("auth") > layer_of("store/items"));
    assert!(imports("model", "fn f() -> crate::model::Tenant", &files).is_empty(), "its own name");
    assert!(Path::new(&workspace_root()).join("shared/src/lib.rs").exists());
}
