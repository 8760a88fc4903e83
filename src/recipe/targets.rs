//! Finds a package's targets the way cargo does (explicit `[lib]`,
//! `[[bin]]`, `[[example]]`, `[[test]]`, `[[bench]]` sections plus
//! auto-discovery of `src/main.rs`, `src/bin/*`, `examples/*`, `tests/*`,
//! `benches/*` and `build.rs`), so that `cook` can write a dummy source for
//! every one of them and cargo finds the same targets in the skeleton.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item};

use super::{Target, TargetKind};

/// A target found in a package, with an absolute source path.
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: TargetKind,
    pub name: String,
    pub path: PathBuf,
    pub harness: bool,
}

impl Found {
    /// The recipe form, with the path relative to `base`.
    pub fn to_target(&self, base: &Path) -> Option<Target> {
        Some(Target {
            kind: self.kind,
            name: self.name.clone(),
            path: super::rel_string(base, &self.path)?,
            harness: self.harness,
        })
    }
}

fn flag(doc: &DocumentMut, key: &str, default: bool) -> bool {
    doc.get("package")
        .and_then(|p| p.get(key))
        .and_then(|v| v.as_bool())
        .unwrap_or(default)
}

/// Entries `name -> .rs file` found in `dir`: `dir/*.rs` and `dir/*/main.rs`.
fn auto_files(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_file() {
            if let Some(stem) = name.strip_suffix(".rs") {
                out.insert(stem.to_string(), p);
            }
        } else if p.is_dir() && p.join("main.rs").is_file() {
            out.insert(name, p.join("main.rs"));
        }
    }
    out
}

/// The explicit sections of one kind (`bin`, `example`, ...).
fn sections<'a>(doc: &'a DocumentMut, key: &str) -> Vec<&'a dyn toml_edit::TableLike> {
    match doc.get(key) {
        Some(Item::ArrayOfTables(a)) => a.iter().map(|t| t as &dyn toml_edit::TableLike).collect(),
        Some(Item::Value(toml_edit::Value::Array(a))) => a
            .iter()
            .filter_map(|v| v.as_inline_table())
            .map(|t| t as &dyn toml_edit::TableLike)
            .collect(),
        _ => Vec::new(),
    }
}

fn str_of(t: &dyn toml_edit::TableLike, key: &str) -> Option<String> {
    t.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

/// The package's targets, sorted.
pub fn discover(doc: &DocumentMut, dir: &Path, package_name: &str) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let lib_name = package_name.replace('-', "_");

    // Library (or proc-macro).
    let lib = doc.get("lib").and_then(|l| l.as_table_like());
    let lib_path = lib
        .and_then(|l| str_of(l, "path"))
        .map(|p| dir.join(p))
        .or_else(|| Some(dir.join("src/lib.rs")).filter(|p| p.is_file()));
    if let Some(path) = lib_path {
        let proc_macro = lib
            .and_then(|l| l.get("proc-macro").or_else(|| l.get("proc_macro")))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        out.push(Found {
            kind: if proc_macro {
                TargetKind::ProcMacro
            } else {
                TargetKind::Lib
            },
            name: lib.and_then(|l| str_of(l, "name")).unwrap_or(lib_name),
            path,
            harness: true,
        });
    }

    // Build script.
    let build = doc.get("package").and_then(|p| p.get("build"));
    let build_path = match build.and_then(|b| b.as_value()) {
        Some(v) if v.as_bool() == Some(false) => None,
        Some(v) if v.as_str().is_some() => Some(dir.join(v.as_str().unwrap_or_default())),
        _ => Some(dir.join("build.rs")).filter(|p| p.is_file()),
    };
    if let Some(path) = build_path {
        out.push(Found {
            kind: TargetKind::BuildScript,
            name: "build-script-build".into(),
            path,
            harness: true,
        });
    }

    let kinds: [(TargetKind, &str, &str, &str); 4] = [
        (TargetKind::Bin, "bin", "autobins", "src/bin"),
        (TargetKind::Example, "example", "autoexamples", "examples"),
        (TargetKind::Test, "test", "autotests", "tests"),
        (TargetKind::Bench, "bench", "autobenches", "benches"),
    ];
    for (kind, key, auto_key, auto_dir) in kinds {
        let mut found: BTreeMap<String, Found> = BTreeMap::new();
        let autos = auto_files(&dir.join(auto_dir));
        if flag(doc, auto_key, true) {
            if kind == TargetKind::Bin && dir.join("src/main.rs").is_file() {
                found.insert(
                    package_name.to_string(),
                    Found {
                        kind,
                        name: package_name.to_string(),
                        path: dir.join("src/main.rs"),
                        harness: true,
                    },
                );
            }
            for (name, path) in &autos {
                found.insert(
                    name.clone(),
                    Found {
                        kind,
                        name: name.clone(),
                        path: path.clone(),
                        harness: true,
                    },
                );
            }
        }
        for t in sections(doc, key) {
            let Some(name) = str_of(t, "name") else {
                continue;
            };
            let path = match str_of(t, "path") {
                Some(p) => dir.join(p),
                None => {
                    if let Some(p) = autos.get(&name) {
                        p.clone()
                    } else if kind == TargetKind::Bin
                        && (name == package_name || !dir.join(auto_dir).is_dir())
                    {
                        dir.join("src/main.rs")
                    } else {
                        dir.join(auto_dir).join(format!("{name}.rs"))
                    }
                }
            };
            let harness = t.get("harness").and_then(|v| v.as_bool()).unwrap_or(true);
            // An explicit section replaces an auto-discovered target with the
            // same file or name.
            found.retain(|n, f| n != &name && f.path != path);
            found.insert(
                name.clone(),
                Found {
                    kind,
                    name,
                    path,
                    harness,
                },
            );
        }
        out.extend(found.into_values());
    }
    out.sort_by(|a, b| (a.kind, &a.name, &a.path).cmp(&(b.kind, &b.name, &b.path)));
    out
}
