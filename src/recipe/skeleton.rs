//! Turns a recipe into files on disk: the recorded files plus a dummy
//! source for every target (with `main` where cargo needs one, none where
//! the test harness provides it), written all-or-nothing: everything is
//! staged in a temporary directory first and moved into place, and a
//! failure part-way puts back what was there before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Recipe, TargetKind, resolve};
use crate::error::{Error, Result};

/// The first line of every dummy source; lets `cook` overwrite its own
/// dummies but never a real source file.
pub const DUMMY_MARKER: &str = "// muslrust-chef: dummy source written by `cook`";

/// Whether a target of this kind needs a `main` function.
fn needs_main(kind: TargetKind, harness: bool) -> bool {
    match kind {
        TargetKind::Lib | TargetKind::ProcMacro => false,
        TargetKind::Bin | TargetKind::Example | TargetKind::BuildScript => true,
        TargetKind::Test | TargetKind::Bench => !harness,
    }
}

/// The dummy source for a file that serves the given targets.
pub fn dummy_source(targets: &[(TargetKind, bool)], no_std: bool) -> String {
    let mut s = format!("{DUMMY_MARKER}\n#![allow(warnings)]\n");
    let is_lib = targets.iter().any(|(k, _)| *k == TargetKind::Lib);
    if no_std && is_lib {
        s.push_str("#![no_std]\n");
    }
    if targets.iter().any(|(k, h)| needs_main(*k, *h)) {
        s.push_str("fn main() {}\n");
    }
    s
}

/// Every file of the skeleton, by path relative to the cook directory.
pub fn files(recipe: &Recipe, no_std: bool) -> BTreeMap<String, String> {
    let mut out = recipe.skeleton.files.clone();
    let mut by_path: BTreeMap<&str, Vec<(TargetKind, bool)>> = BTreeMap::new();
    for pkg in recipe.skeleton.packages.values() {
        for t in &pkg.targets {
            by_path
                .entry(t.path.as_str())
                .or_default()
                .push((t.kind, t.harness));
        }
    }
    for (path, targets) in by_path {
        out.entry(path.to_string())
            .or_insert_with(|| dummy_source(&targets, no_std));
    }
    out
}

/// Writes `files` below `base`, all or nothing. Refuses to overwrite a Rust
/// source that is not one of our dummies unless `force`.
pub fn write(base: &Path, files: &BTreeMap<String, String>, force: bool) -> Result<()> {
    // Check everything before touching anything.
    let mut todo: Vec<(PathBuf, &str)> = Vec::new();
    for (rel, contents) in files {
        let dest = resolve(base, rel);
        if dest.is_dir() {
            return Err(Error::new(format!(
                "cannot write {}: a directory is in the way",
                dest.display()
            ))
            .hint("cook into an empty directory (a fresh Docker stage)"));
        }
        if let Ok(existing) = std::fs::read(&dest) {
            if existing == contents.as_bytes() {
                continue;
            }
            let ours = existing.starts_with(DUMMY_MARKER.as_bytes());
            if rel.ends_with(".rs") && !ours && !force {
                return Err(Error::new(format!(
                    "{} exists and is not a dummy source: cook would overwrite it",
                    dest.display()
                ))
                .hint("cook writes a dummy skeleton: run it in an empty directory (a fresh Docker stage), or pass --force"));
            }
        }
        todo.push((dest, contents));
    }
    if todo.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(base).map_err(|e| Error::io("creating", base, e))?;
    let stage = tempfile::Builder::new()
        .prefix(".muslrust-chef-cook-")
        .tempdir_in(base)
        .map_err(|e| Error::io("creating a directory in", base, e))?;
    let mut staged = Vec::new();
    for (i, (dest, contents)) in todo.iter().enumerate() {
        let p = stage.path().join(format!("new-{i}"));
        std::fs::write(&p, contents).map_err(|e| Error::io("writing", &p, e))?;
        staged.push((p, dest.clone()));
    }
    // Move into place; remember how to undo each step.
    enum Undo {
        Remove(PathBuf),
        Restore { backup: PathBuf, dest: PathBuf },
        RemoveDir(PathBuf),
    }
    let mut undo: Vec<Undo> = Vec::new();
    let mut result = Ok(());
    for (i, (src, dest)) in staged.iter().enumerate() {
        let step = (|| -> Result<()> {
            let parent = dest.parent().expect("skeleton paths have a parent");
            let mut missing = Vec::new();
            let mut d = parent;
            while !d.exists() {
                missing.push(d.to_path_buf());
                match d.parent() {
                    Some(p) => d = p,
                    None => break,
                }
            }
            for m in missing.iter().rev() {
                std::fs::create_dir(m).map_err(|e| Error::io("creating", m, e))?;
                undo.push(Undo::RemoveDir(m.clone()));
            }
            if dest.exists() {
                let backup = stage.path().join(format!("old-{i}"));
                std::fs::rename(dest, &backup).map_err(|e| Error::io("moving", dest, e))?;
                undo.push(Undo::Restore {
                    backup,
                    dest: dest.clone(),
                });
            } else {
                undo.push(Undo::Remove(dest.clone()));
            }
            std::fs::rename(src, dest).map_err(|e| Error::io("writing", dest, e))?;
            Ok(())
        })();
        if let Err(e) = step {
            result = Err(e);
            break;
        }
    }
    if result.is_err() {
        for u in undo.into_iter().rev() {
            match u {
                Undo::Remove(p) => {
                    std::fs::remove_file(&p).ok();
                }
                Undo::Restore { backup, dest } => {
                    std::fs::remove_file(&dest).ok();
                    std::fs::rename(&backup, &dest).ok();
                }
                Undo::RemoveDir(d) => {
                    std::fs::remove_dir(&d).ok();
                }
            }
        }
    }
    result
}
