//! Holds the code to the layering of `src/lib.rs`: each top-level module may use only
//! modules of lower layers, modules of one layer do not use each other, and files of
//! one folder do not use each other in a cycle. The source is parsed with `syn`, so
//! grouped imports (`use crate::{a, b}`) and inline paths (`crate::a::f()`) count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use syn::visit::Visit;

/// Top-level modules, bottom layer first.
const LAYERS: &[&[&str]] = &[
    &["clock", "retry", "tls", "errors"],
    &["model"],
    &["demo"],
    &["config"],
    &["render"],
    &["gitlab", "slack", "state"],
    &["jobs"],
    &["daemon"],
    &["server", "systemd"],
    &["app"],
    &["cli"],
];

/// A module path inside the crate, e.g. `["gitlab", "client"]`.
type ModPath = Vec<String>;

/// One use of another module: from which module, to which path, and whether only
/// test code (`#[cfg(test)]`) uses it.
#[derive(Debug)]
struct Use {
    from: ModPath,
    to: ModPath,
    in_test: bool,
}

#[test]
fn the_crate_keeps_its_layers_and_has_no_cycles() {
    let files = crate_files(Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path());
    assert!(
        files.len() > 20,
        "expected the crate's source files, found {}",
        files.len()
    );
    let problems = problems(&files);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn a_lower_layer_using_a_higher_one_is_caught() {
    let files = vec![
        (
            path("model::rollup"),
            "use crate::slack::Posted;".to_owned(),
        ),
        (
            path("slack"),
            "fn f() { crate::model::rollup::build(); }".to_owned(),
        ),
        (
            path("state"),
            "use crate::{model, slack::Posted};".to_owned(),
        ),
        (path("cli"), "use crate::model;".to_owned()),
    ];
    assert_eq!(
        problems(&files),
        [
            "model::rollup uses slack (a higher layer)",
            "state uses slack (the same layer)",
        ]
    );
}

#[test]
fn files_of_one_folder_using_each_other_are_a_cycle() {
    let files = vec![
        (path("gitlab"), "pub use client::Client;".to_owned()),
        (
            path("gitlab::client"),
            "use super::queries::Page;".to_owned(),
        ),
        (
            path("gitlab::queries"),
            "use crate::gitlab::client::Client;".to_owned(),
        ),
        (
            path("gitlab::wire"),
            "#[cfg(test)] mod tests { use super::super::client::Client; }".to_owned(),
        ),
    ];
    assert_eq!(
        problems(&files),
        ["gitlab::client and gitlab::queries use each other"]
    );
}

fn path(p: &str) -> ModPath {
    p.split("::").map(str::to_owned).collect()
}

/// Every problem with the layering of `files`, in a stable order.
fn problems(files: &[(ModPath, String)]) -> Vec<String> {
    let layer: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (*n, i)))
        .collect();
    let modules: BTreeSet<&ModPath> = files.iter().map(|(m, _)| m).collect();
    let uses: Vec<Use> = files
        .iter()
        .flat_map(|(module, source)| uses_in(module, source))
        .collect();

    let mut out = BTreeSet::new();
    for u in &uses {
        let (Some(from), Some(to)) = (u.from.first(), u.to.first()) else {
            continue;
        };
        if from == to {
            continue;
        }
        let (Some(&lf), Some(&lt)) = (layer.get(from.as_str()), layer.get(to.as_str())) else {
            if layer.contains_key(from.as_str()) && !u.to.is_empty() {
                out.insert(format!("{from} uses {to}, which is in no layer"));
            }
            continue;
        };
        let what = match lt.cmp(&lf) {
            std::cmp::Ordering::Less => continue,
            std::cmp::Ordering::Equal => "the same layer",
            std::cmp::Ordering::Greater => "a higher layer",
        };
        out.insert(format!("{} uses {to} ({what})", u.from.join("::")));
    }

    // Files of one folder: an edge from one file module to a sibling it uses.
    let mut edges: BTreeMap<&ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for u in uses.iter().filter(|u| !u.in_test) {
        let Some(target) = (1..=u.to.len())
            .rev()
            .map(|n| u.to[..n].to_vec())
            .find(|p| modules.contains(p))
        else {
            continue;
        };
        let Some(from) = modules.get(&u.from) else {
            continue;
        };
        let siblings = from.len() == target.len()
            && from.len() > 1
            && from[..from.len() - 1] == target[..target.len() - 1]
            && **from != target;
        if siblings {
            edges.entry(from).or_default().insert(target);
        }
    }
    for (a, targets) in &edges {
        for b in targets {
            if reaches(&edges, b, a) && *a < b {
                out.insert(format!(
                    "{} and {} use each other",
                    a.join("::"),
                    b.join("::")
                ));
            }
        }
    }
    out.into_iter().collect()
}

fn reaches(edges: &BTreeMap<&ModPath, BTreeSet<ModPath>>, from: &ModPath, to: &ModPath) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.clone()];
    while let Some(m) = stack.pop() {
        if &m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            stack.extend(edges.get(&m).into_iter().flatten().cloned());
        }
    }
    false
}

/// The crate's module files, except the root files that only declare and re-export.
fn crate_files(src: &Path) -> Vec<(ModPath, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut module: ModPath = rel
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|l| l == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                continue;
            }
            out.push((module, std::fs::read_to_string(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// The crate-internal paths `source` (the file of `module`) names, resolved.
fn uses_in(module: &ModPath, source: &str) -> Vec<Use> {
    let file = syn::parse_file(source)
        .unwrap_or_else(|e| panic!("{}: cannot parse: {e}", module.join("::")));
    let mut v = Collector {
        file_module: module.clone(),
        current: module.clone(),
        // A `tests.rs` file is declared `#[cfg(test)] mod tests;` by its parent.
        test_depth: usize::from(module.last().is_some_and(|m| m == "tests")),
        out: Vec::new(),
    };
    v.visit_file(&file);
    v.out
}

struct Collector {
    file_module: ModPath,
    current: ModPath,
    test_depth: usize,
    out: Vec<Use>,
}

impl Collector {
    fn record(&mut self, segments: &[String]) {
        let mut resolved = match segments.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("self") => self.current.clone(),
            Some("super") => self.current.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if segments[0] == "super" {
            resolved.pop();
        }
        while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
            resolved.pop();
            rest = tail;
        }
        resolved.extend(rest.iter().cloned());
        self.out.push(Use {
            from: self.file_module.clone(),
            to: resolved,
            in_test: self.test_depth > 0,
        });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.record(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let test = is_cfg_test(&item.attrs);
        self.test_depth += usize::from(test);
        self.use_tree(&mut Vec::new(), &item.tree);
        self.test_depth -= usize::from(test);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let test = is_cfg_test(&item.attrs) || item.ident == "tests";
        self.test_depth += usize::from(test);
        if item.content.is_some() {
            self.current.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.current.pop();
        }
        self.test_depth -= usize::from(test);
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let test = is_cfg_test(&item.attrs);
        self.test_depth += usize::from(test);
        syn::visit::visit_item_fn(self, item);
        self.test_depth -= usize::from(test);
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let test = is_cfg_test(&item.attrs);
        self.test_depth += usize::from(test);
        syn::visit::visit_item_impl(self, item);
        self.test_depth -= usize::from(test);
    }
}
