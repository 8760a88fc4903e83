//! `prepare`: reads a Cargo project and writes its [`Recipe`]. The local
//! packages are the workspace members plus every path dependency (inside
//! or outside the workspace root) and `[patch]`/`[replace]` entries that
//! point at a directory. Patched crates stand in for registry crates, so
//! their full sources go into the recipe (they are dependencies); every
//! other local package gets its manifest masked and dummy sources.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use toml_edit::DocumentMut;

use super::targets::{self, Found};
use super::version_masking::{self as vm, MASKED_VERSION};
use super::{PackageSkeleton, Recipe, Settings, Skeleton, TargetKind, lockfile, rel_string};
use crate::error::{Error, Result};
use crate::process;
use crate::project::Project;
use crate::reporter::Reporter;

/// What `prepare` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// The project (a directory or its `Cargo.toml`).
    pub path: PathBuf,
    /// The cargo used for `cargo metadata` (default: `cargo` on PATH).
    pub cargo: Option<PathBuf>,
    /// Keep only what these binaries need.
    pub bins: Vec<String>,
    /// Keep only what these examples need.
    pub examples: Vec<String>,
    /// Run `cargo generate-lockfile` when `Cargo.lock` is missing.
    pub generate_lockfile: bool,
    /// The build settings to record (`bins` and `examples` are filled in).
    pub settings: Settings,
    /// The project, when the caller already loaded it from `path`.
    pub project: Option<Project>,
}

struct Local {
    dir: PathBuf,
    manifest: PathBuf,
    doc: DocumentMut,
    name: String,
    member: bool,
    patched: bool,
    /// Directories of the local packages it depends on (all kinds).
    deps: Vec<PathBuf>,
    targets: Vec<Found>,
}

/// Parses a manifest; errors name the file and line.
pub fn parse_manifest(path: &Path) -> Result<(String, DocumentMut)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let doc = text.parse::<DocumentMut>().map_err(|e| {
        Error::new(format!("{} is not a valid manifest: {e}", path.display()))
            .hint("fix the TOML at the line shown, then run `prepare` again")
    })?;
    Ok((text, doc))
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| vm::normalize(p))
}

fn package_name(doc: &DocumentMut) -> Option<String> {
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
}

/// The version cargo sees before masking: literal, inherited, or none.
fn original_version(doc: &DocumentMut, root: &DocumentMut) -> Option<String> {
    let v = doc.get("package")?.get("version")?;
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    root.get("workspace")?
        .get("package")?
        .get("version")?
        .as_str()
        .map(str::to_string)
}

/// Makes sure `Cargo.lock` exists, generating it when asked.
fn ensure_lockfile(root: &Path, opts: &PrepareOptions, reporter: &dyn Reporter) -> Result<PathBuf> {
    let lock = root.join("Cargo.lock");
    if lock.is_file() {
        return Ok(lock);
    }
    if !opts.generate_lockfile {
        return Err(Error::new(format!(
            "{} has no Cargo.lock: without it the cooked dependencies could differ from the ones built later",
            root.display()
        ))
        .hint("run `cargo generate-lockfile` (and commit Cargo.lock), or pass --generate-lockfile"));
    }
    reporter.step("generating Cargo.lock");
    let cargo = opts.cargo.clone().unwrap_or_else(|| PathBuf::from("cargo"));
    process::run_captured(
        Command::new(cargo)
            .arg("generate-lockfile")
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml")),
    )?;
    Ok(lock)
}

/// Computes the recipe for a project.
pub fn prepare(opts: &PrepareOptions, reporter: &dyn Reporter) -> Result<Recipe> {
    let project = match &opts.project {
        Some(p) => p.clone(),
        None => Project::load(&opts.path, opts.cargo.as_deref())?,
    };
    let root = canonical(&project.workspace_root);
    let lock_path = ensure_lockfile(&root, opts, reporter)?;
    let (_, root_doc) = parse_manifest(&root.join("Cargo.toml"))?;

    let members: BTreeSet<PathBuf> = project
        .members
        .iter()
        .filter_map(|m| m.manifest_path.parent().map(canonical))
        .collect();
    let ws_deps: BTreeMap<String, Option<String>> = vm::workspace_deps(&root_doc)
        .into_iter()
        .map(|d| (d.key, d.path))
        .collect();

    // Walk the local packages: members first, then [patch]ed directories.
    let mut locals: BTreeMap<PathBuf, Local> = BTreeMap::new();
    let patched_roots: Vec<PathBuf> = vm::patch_paths(&root_doc)
        .iter()
        .map(|p| canonical(&root.join(p)))
        .collect();
    let mut queue: VecDeque<(PathBuf, bool, String)> = VecDeque::new();
    if package_name(&root_doc).is_some() {
        queue.push_back((root.clone(), false, "the workspace".into()));
    }
    for m in &members {
        queue.push_back((m.clone(), false, "the workspace".into()));
    }
    for p in &patched_roots {
        queue.push_back((p.clone(), true, "[patch] in the root manifest".into()));
    }
    while let Some((dir, patched, from)) = queue.pop_front() {
        if let Some(l) = locals.get_mut(&dir) {
            l.patched |= patched;
            continue;
        }
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(Error::new(format!(
                "{from} points at {}, which has no Cargo.toml",
                dir.display()
            ))
            .hint("fix the `path` of that dependency"));
        }
        let (_, doc) = parse_manifest(&manifest)?;
        let Some(name) = package_name(&doc) else {
            return Err(
                Error::new(format!("{} has no [package] name", manifest.display()))
                    .hint("a path dependency must point at a package"),
            );
        };
        let mut deps = Vec::new();
        for d in vm::package_deps(&doc) {
            let target = match (&d.path, d.workspace) {
                (Some(p), _) => Some(canonical(&dir.join(p))),
                (None, true) => ws_deps
                    .get(&d.key)
                    .and_then(|p| p.as_ref())
                    .map(|p| canonical(&root.join(p))),
                _ => None,
            };
            if let Some(t) = target {
                queue.push_back((t.clone(), patched, manifest.display().to_string()));
                deps.push(t);
            }
        }
        let targets = targets::discover(&doc, &dir, &name);
        locals.insert(
            dir.clone(),
            Local {
                member: members.contains(&dir),
                dir,
                manifest,
                doc,
                name,
                patched,
                deps,
                targets,
            },
        );
    }

    // `--bin` / `--example`: keep only what they need.
    let selecting = !opts.bins.is_empty() || !opts.examples.is_empty();
    let mut keep: BTreeSet<PathBuf> = locals.keys().cloned().collect();
    if selecting {
        let mut owners = Vec::new();
        for (names, kind, what) in [
            (&opts.bins, TargetKind::Bin, "binary"),
            (&opts.examples, TargetKind::Example, "example"),
        ] {
            for n in names {
                let owner = locals
                    .values()
                    .filter(|l| l.member)
                    .find(|l| l.targets.iter().any(|t| t.kind == kind && &t.name == n));
                match owner {
                    Some(l) => owners.push(l.dir.clone()),
                    None => {
                        let avail: BTreeSet<&str> = locals
                            .values()
                            .filter(|l| l.member)
                            .flat_map(|l| l.targets.iter())
                            .filter(|t| t.kind == kind)
                            .map(|t| t.name.as_str())
                            .collect();
                        let avail: Vec<&str> = avail.into_iter().collect();
                        return Err(Error::new(format!("no {what} target named `{n}`")).hint(
                            format!(
                                "available: {}",
                                if avail.is_empty() {
                                    "(none)".into()
                                } else {
                                    avail.join(", ")
                                }
                            ),
                        ));
                    }
                }
            }
        }
        if package_name(&root_doc).is_some() {
            owners.push(root.clone());
        }
        owners.extend(locals.values().filter(|l| l.patched).map(|l| l.dir.clone()));
        keep.clear();
        let mut stack = owners;
        while let Some(d) = stack.pop() {
            if keep.insert(d.clone())
                && let Some(l) = locals.get(&d)
            {
                stack.extend(l.deps.iter().cloned());
            }
        }
    }
    let kept: Vec<&Local> = locals.values().filter(|l| keep.contains(&l.dir)).collect();

    // Everything is written relative to the common ancestor.
    let mut base = root.clone();
    for l in &kept {
        while !l.dir.starts_with(&base) {
            if !base.pop() {
                break;
            }
        }
    }

    // Versions: which local packages are masked, and from what.
    let mut lock_map: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut masked_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for l in kept.iter().filter(|l| !l.patched) {
        if let Some(orig) = original_version(&l.doc, &root_doc) {
            lock_map.insert(l.name.clone(), (orig, MASKED_VERSION.to_string()));
            masked_dirs.insert(l.dir.clone());
        }
    }
    let is_masked = |p: &Path| masked_dirs.contains(&canonical(p));

    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut packages: BTreeMap<String, PackageSkeleton> = BTreeMap::new();
    let rel = |p: &Path| -> Result<String> {
        rel_string(&base, p).ok_or_else(|| {
            Error::new(format!("{} lies outside {}", p.display(), base.display()))
                .hint("targets and path dependencies must live below a common directory")
        })
    };

    // The root manifest (also a package's, or virtual).
    let mut root_out = root_doc.clone();
    let root_is_pkg = locals.get(&root).is_some_and(|l| !l.patched);
    if root_is_pkg {
        vm::mask_package_version(&mut root_out);
    }
    vm::mask_workspace_version(&mut root_out);
    vm::neutralize_lints(&mut root_out);
    vm::mask_path_dep_versions(&mut root_out, &root, &is_masked);
    if selecting {
        prune_workspace(&mut root_out, &root, &locals, &keep);
    }
    files.insert(rel(&root.join("Cargo.toml"))?, root_out.to_string());

    for l in &kept {
        if l.patched {
            copy_tree(&l.dir, &base, &mut files)?;
            continue;
        }
        if l.dir != root {
            let mut doc = l.doc.clone();
            vm::mask_package_version(&mut doc);
            vm::neutralize_lints(&mut doc);
            vm::mask_path_dep_versions(&mut doc, &l.dir, &is_masked);
            files.insert(rel(&l.manifest)?, doc.to_string());
        }
        let mut targets = Vec::new();
        for t in &l.targets {
            targets.push(t.to_target(&base).ok_or_else(|| {
                Error::new(format!(
                    "the target `{}` of {} ({}) lies outside {}",
                    t.name,
                    l.name,
                    t.path.display(),
                    base.display()
                ))
                .hint("move the source below the package directory")
            })?);
        }
        targets.sort();
        packages.insert(
            rel(&l.manifest)?,
            PackageSkeleton {
                name: l.name.clone(),
                member: l.member,
                targets,
            },
        );
    }

    // Cargo.lock, masked and (with --bin) pruned.
    let lock_text =
        std::fs::read_to_string(&lock_path).map_err(|e| Error::io("reading", &lock_path, e))?;
    let mut lock = lockfile::parse(&lock_text, &lock_path)?;
    lockfile::mask(&mut lock, &lock_map);
    if selecting {
        let names: BTreeSet<String> = kept.iter().map(|l| l.name.clone()).collect();
        lockfile::prune(&mut lock, &names);
    }
    files.insert(rel(&lock_path)?, lock.to_string());

    // Cargo configuration and the toolchain file, verbatim.
    for name in [
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain.toml",
        "rust-toolchain",
    ] {
        for dir in [&root, &base] {
            let p = dir.join(name);
            if p.is_file() {
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io("reading", &p, e))?;
                files.insert(rel(&p)?, text);
            }
        }
    }

    let mut settings = opts.settings.clone();
    settings.features.sort();
    settings.features.dedup();
    settings.bins = sorted_unique(&opts.bins);
    settings.examples = sorted_unique(&opts.examples);
    Ok(Recipe {
        format: super::FORMAT,
        generator: super::generator_name(),
        settings,
        skeleton: Skeleton {
            workspace: rel(&root)?,
            files,
            packages,
        },
    })
}

fn sorted_unique(v: &[String]) -> Vec<String> {
    let s: BTreeSet<&String> = v.iter().collect();
    s.into_iter().cloned().collect()
}

/// With `--bin`: drops members the selection doesn't need from
/// `workspace.members` / `default-members` (globs stay: they only match
/// directories in the skeleton) and unused `[workspace.dependencies]`.
fn prune_workspace(
    doc: &mut DocumentMut,
    root: &Path,
    locals: &BTreeMap<PathBuf, Local>,
    keep: &BTreeSet<PathBuf>,
) {
    let used: BTreeSet<String> = locals
        .values()
        .filter(|l| keep.contains(&l.dir))
        .flat_map(|l| vm::package_deps(&l.doc))
        .filter(|d| d.workspace)
        .map(|d| d.key)
        .collect();
    let Some(ws) = doc.get_mut("workspace").and_then(|w| w.as_table_like_mut()) else {
        return;
    };
    for key in ["members", "default-members"] {
        if let Some(arr) = ws.get_mut(key).and_then(|a| a.as_array_mut()) {
            arr.retain(|v| {
                let Some(s) = v.as_str() else { return true };
                if s.contains(['*', '?', '[']) {
                    return true;
                }
                let d = canonical(&root.join(s));
                !locals.contains_key(&d) || keep.contains(&d)
            });
        }
    }
    if let Some(deps) = ws
        .get_mut("dependencies")
        .and_then(|d| d.as_table_like_mut())
    {
        let keys: Vec<String> = deps.iter().map(|(k, _)| k.to_string()).collect();
        for k in keys {
            if !used.contains(&k) {
                deps.remove(&k);
            }
        }
    }
}

/// Adds every file of a `[patch]`ed crate (a real dependency) to the recipe.
fn copy_tree(dir: &Path, base: &Path, files: &mut BTreeMap<String, String>) -> Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io("reading", &d, e))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                let bytes = std::fs::read(&p).map_err(|e| Error::io("reading", &p, e))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    Error::new(format!(
                        "{} (in a [patch]ed crate) is not a text file",
                        p.display()
                    ))
                    .hint("recipes carry patched crates' sources as text; vendor binary files elsewhere")
                })?;
                let r = rel_string(base, &p).ok_or_else(|| {
                    Error::new(format!("{} lies outside {}", p.display(), base.display()))
                })?;
                files.insert(r, text);
            }
        }
    }
    Ok(())
}

/// Writes the recipe through a temporary file and a rename, so `path` is
/// either the old recipe or the whole new one.
pub fn write(recipe: &Recipe, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".recipe-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("creating a file in", &dir, e))?;
    use std::io::Write;
    tmp.write_all(recipe.to_json().as_bytes())
        .map_err(|e| Error::io("writing", tmp.path(), e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("setting permissions on", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("writing", path, e.error))?;
    Ok(())
}
