//! `Cargo.lock` in the skeleton: local entries (those without `source`)
//! get the masked version, references to them too, and with `prepare
//! --bin` only the entries the kept packages reach are kept, so an
//! unrelated member's new dependency does not bust the cache. Entries with
//! a `source` (registry, git) are never changed, even when one shares a
//! local crate's name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml_edit::{DocumentMut, Item, Value};

use crate::error::{Error, Result};

struct Entry {
    name: String,
    version: String,
    source: Option<String>,
    deps: Vec<String>,
}

fn entries(doc: &DocumentMut) -> Vec<Entry> {
    let Some(pkgs) = doc.get("package").and_then(|p| p.as_array_of_tables()) else {
        return Vec::new();
    };
    pkgs.iter()
        .map(|t| Entry {
            name: t.get("name").and_then(|v| v.as_str()).unwrap_or("").into(),
            version: t
                .get("version")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .into(),
            source: t.get("source").and_then(|v| v.as_str()).map(str::to_string),
            deps: t
                .get("dependencies")
                .and_then(|d| d.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// `name [version [(source)]]`.
fn parse_ref(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let mut it = s.splitn(3, ' ');
    let name = it.next().unwrap_or("");
    let version = it.next();
    let source = it
        .next()
        .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
    (name, version, source)
}

/// Parses a lockfile, naming the file and line on failure.
pub fn parse(text: &str, path: &Path) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| {
        Error::new(format!("{} is not valid TOML: {e}", path.display()))
            .hint("fix it, or delete it and run `cargo generate-lockfile`")
    })
}

/// Masks local entries. `local` maps a local package name to its version
/// before masking and the masked one. An entry without `source` is a path
/// package; a reference `name version` without source is rewritten unless
/// a registry (or git) entry has that name and version.
pub fn mask(doc: &mut DocumentMut, local: &BTreeMap<String, (String, String)>) {
    let sourced: BTreeSet<(String, String)> = entries(doc)
        .into_iter()
        .filter(|e| e.source.is_some())
        .map(|e| (e.name, e.version))
        .collect();
    let Some(pkgs) = doc
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
    else {
        return;
    };
    for t in pkgs.iter_mut() {
        let is_local = t.get("source").is_none();
        let name = t
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if is_local && let Some((_, masked)) = local.get(&name) {
            t["version"] = Item::Value(Value::from(masked.as_str()));
        }
        if let Some(deps) = t.get_mut("dependencies").and_then(|d| d.as_array_mut()) {
            for v in deps.iter_mut() {
                let Some(s) = v.as_str() else { continue };
                let (n, ver, src) = parse_ref(s);
                if src.is_some() {
                    continue;
                }
                if let (Some(ver), Some((_, masked))) = (ver, local.get(n))
                    && !sourced.contains(&(n.to_string(), ver.to_string()))
                {
                    let decor = v.decor().clone();
                    *v = Value::from(format!("{n} {masked}"));
                    *v.decor_mut() = decor;
                }
            }
        }
    }
}

/// Keeps only the entries reachable from the local packages named in
/// `roots` (and drops `[[patch.unused]]`).
pub fn prune(doc: &mut DocumentMut, roots: &BTreeSet<String>) {
    let list = entries(doc);
    let find = |r: &str| -> Vec<usize> {
        let (n, v, s) = parse_ref(r);
        list.iter()
            .enumerate()
            .filter(|(_, e)| {
                e.name == n
                    && v.is_none_or(|v| v == e.version)
                    && s.is_none_or(|s| Some(s) == e.source.as_deref())
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut keep = BTreeSet::new();
    let mut stack: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, e)| e.source.is_none() && roots.contains(&e.name))
        .map(|(i, _)| i)
        .collect();
    while let Some(i) = stack.pop() {
        if !keep.insert(i) {
            continue;
        }
        for d in &list[i].deps {
            stack.extend(find(d));
        }
    }
    if let Some(pkgs) = doc
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
    {
        let mut idx = 0usize;
        pkgs.retain(|_| {
            let k = keep.contains(&idx);
            idx += 1;
            k
        });
    }
    if let Some(patch) = doc.get_mut("patch").and_then(|p| p.as_table_like_mut()) {
        patch.remove("unused");
        if patch.is_empty() {
            doc.as_table_mut().remove("patch");
        }
    }
}
