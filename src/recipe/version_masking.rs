//! Local versions change with every release but never change what the
//! dependencies compile to. Masking them (in every place cargo reads them)
//! keeps the recipe, and so the Docker layer that cooks it, stable across
//! version bumps. Registry crates are never touched, even when one shares a
//! local crate's name: only entries that point at a local directory are.
//!
//! Manifests are edited in place with `toml_edit`, so every field we don't
//! know (`strip`, `cargo-features`, comments) survives.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

/// The version every local package gets in the skeleton.
pub const MASKED_VERSION: &str = "0.0.1";

const DEP_TABLES: [&str; 5] = [
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];

/// A dependency entry as far as the skeleton cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepRef {
    /// The key in the table (the name the package uses for it).
    pub key: String,
    /// `path = ...`, as written.
    pub path: Option<String>,
    /// `workspace = true`.
    pub workspace: bool,
}

fn dep_tables_mut(doc: &mut DocumentMut) -> Vec<&mut dyn TableLike> {
    let mut out: Vec<&mut dyn TableLike> = Vec::new();
    let root = doc.as_table_mut();
    // Split borrows: walk the root table's entries once.
    for (k, item) in root.iter_mut() {
        let k = k.get();
        if DEP_TABLES.contains(&k) {
            if let Some(t) = item.as_table_like_mut() {
                out.push(t);
            }
        } else if k == "target"
            && let Some(targets) = item.as_table_like_mut()
        {
            for (_, tgt) in targets.iter_mut() {
                if let Some(tgt) = tgt.as_table_like_mut() {
                    for (tk, t) in tgt.iter_mut() {
                        if DEP_TABLES.contains(&tk.get())
                            && let Some(t) = t.as_table_like_mut()
                        {
                            out.push(t);
                        }
                    }
                }
            }
        }
    }
    out
}

fn dep_tables(doc: &DocumentMut) -> Vec<&dyn TableLike> {
    let mut out: Vec<&dyn TableLike> = Vec::new();
    for k in DEP_TABLES {
        if let Some(t) = doc.get(k).and_then(|t| t.as_table_like()) {
            out.push(t);
        }
    }
    if let Some(targets) = doc.get("target").and_then(|t| t.as_table_like()) {
        for (_, tgt) in targets.iter() {
            if let Some(tgt) = tgt.as_table_like() {
                for k in DEP_TABLES {
                    if let Some(t) = tgt.get(k).and_then(|t| t.as_table_like()) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out
}

fn dep_ref(key: &str, item: &Item) -> DepRef {
    let t = item.as_table_like();
    DepRef {
        key: key.to_string(),
        path: t
            .and_then(|t| t.get("path"))
            .and_then(|p| p.as_str())
            .map(str::to_string),
        workspace: t
            .and_then(|t| t.get("workspace"))
            .and_then(|w| w.as_bool())
            .unwrap_or(false),
    }
}

/// Every dependency of a package (all kinds, all targets).
pub fn package_deps(doc: &DocumentMut) -> Vec<DepRef> {
    dep_tables(doc)
        .into_iter()
        .flat_map(|t| t.iter().map(|(k, v)| dep_ref(k, v)).collect::<Vec<_>>())
        .collect()
}

/// `[workspace.dependencies]` entries.
pub fn workspace_deps(doc: &DocumentMut) -> Vec<DepRef> {
    doc.get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table_like())
        .map(|t| t.iter().map(|(k, v)| dep_ref(k, v)).collect())
        .unwrap_or_default()
}

/// `[patch.<source>]` and `[replace]` entries that point at a directory.
pub fn patch_paths(doc: &DocumentMut) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(patch) = doc.get("patch").and_then(|p| p.as_table_like()) {
        for (_, src) in patch.iter() {
            if let Some(src) = src.as_table_like() {
                for (k, v) in src.iter() {
                    if let Some(p) = dep_ref(k, v).path {
                        out.push(p);
                    }
                }
            }
        }
    }
    if let Some(rep) = doc.get("replace").and_then(|p| p.as_table_like()) {
        for (k, v) in rep.iter() {
            if let Some(p) = dep_ref(k, v).path {
                out.push(p);
            }
        }
    }
    out
}

/// Sets `package.version` to [`MASKED_VERSION`] when it is a literal.
/// Returns the package's version as the skeleton will have it: masked, the
/// workspace's (masked too) when inherited, or none (cargo's `0.0.0`).
pub fn mask_package_version(doc: &mut DocumentMut) -> Option<&'static str> {
    let pkg = doc.get_mut("package")?.as_table_like_mut()?;
    let v = pkg.get_mut("version")?;
    if v.is_str() {
        let decor = v.as_value().map(|v| v.decor().clone());
        let mut new = toml_edit::Value::from(MASKED_VERSION);
        if let Some(d) = decor {
            *new.decor_mut() = d;
        }
        *v = Item::Value(new);
    }
    Some(MASKED_VERSION)
}

/// Sets `workspace.package.version` to [`MASKED_VERSION`].
pub fn mask_workspace_version(doc: &mut DocumentMut) {
    if let Some(v) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("package"))
        .and_then(|p| p.get_mut("version"))
        && v.is_str()
    {
        set_str(v, MASKED_VERSION);
    }
}

fn set_str(item: &mut Item, s: &str) {
    let decor = item.as_value().map(|v| v.decor().clone());
    let mut new = toml_edit::Value::from(s);
    if let Some(d) = decor {
        *new.decor_mut() = d;
    }
    *item = Item::Value(new);
}

fn mask_table(t: &mut dyn TableLike, dir: &Path, is_masked: &dyn Fn(&Path) -> bool) {
    for (_, dep) in t.iter_mut() {
        let Some(dt) = dep.as_table_like_mut() else {
            continue;
        };
        let Some(path) = dt.get("path").and_then(|p| p.as_str()) else {
            continue;
        };
        let target = normalize(&dir.join(path));
        if !is_masked(&target) {
            continue;
        }
        if let Some(v) = dt.get_mut("version")
            && v.is_str()
        {
            set_str(v, MASKED_VERSION);
        }
    }
}

/// Masks the version requirement of every dependency that points (by
/// `path`) at a masked local package: in all dependency tables, including
/// renamed and target-specific ones, and `[workspace.dependencies]`.
/// `dir` is the manifest's directory; `is_masked` gets a normalized path.
pub fn mask_path_dep_versions(
    doc: &mut DocumentMut,
    dir: &Path,
    is_masked: &dyn Fn(&Path) -> bool,
) {
    for t in dep_tables_mut(doc) {
        mask_table(t, dir, is_masked);
    }
    if let Some(t) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(|d| d.as_table_like_mut())
    {
        mask_table(t, dir, is_masked);
    }
}

/// Removes `[lints]` and `[workspace.lints]`: they only concern the
/// project's own code, and a `deny` (e.g. `missing_docs`) would fail on the
/// dummy sources.
pub fn neutralize_lints(doc: &mut DocumentMut) {
    doc.as_table_mut().remove("lints");
    if let Some(w) = doc.get_mut("workspace").and_then(|w| w.as_table_like_mut()) {
        w.remove("lints");
    }
}

/// Drops `.` and resolves `..` lexically (paths may not exist yet).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
