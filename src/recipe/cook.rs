//! `cook`: writes the skeleton and builds only the dependencies, with the
//! same cargo invocation `build` uses (the musl toolchain's command for
//! musl platforms, plain cargo with `--target` for any other triple), so
//! the fingerprints match and `build` reuses every dependency.
//!
//! The dummy local crates are compiled too (cargo can't build a package's
//! dependencies without the package). Afterwards their artifacts,
//! fingerprints and build-script outputs are removed from `target/`:
//! otherwise a real source copied in later with an older mtime (Docker
//! keeps the build context's mtimes) would look up to date and the dummy
//! would be linked instead.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{Recipe, TargetKind, resolve, skeleton};
use crate::compile::{CargoFlags, Features, Profile};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::process;
use crate::reporter::Reporter;
use crate::toolchain::{self, LibcChoice};

/// Where and how the skeleton is written.
#[derive(Debug, Clone, Default)]
pub struct CookOptions {
    /// The directory the skeleton is written into.
    pub dir: PathBuf,
    /// Dummy libraries are `#![no_std]`.
    pub no_std: bool,
    /// Overwrite existing Rust sources that are not our dummies.
    pub force: bool,
    /// Write the skeleton only.
    pub no_build: bool,
}

/// The cargo invocation, already merged from flags and recipe.
#[derive(Debug, Clone, Default)]
pub struct CookPlan {
    /// `build`, `check` or `clippy`.
    pub command: String,
    pub platforms: Vec<Platform>,
    /// Non-musl triples, built with plain cargo.
    pub targets: Vec<String>,
    pub profile: Profile,
    pub features: Features,
    pub cargo: CargoFlags,
    pub libc: LibcChoice,
    /// Target and package selection (`--bin X`, `-p P`, `--all-targets`...).
    pub selection: Vec<String>,
    /// Other cargo arguments (`--timings`, `-Z ...`).
    pub extra: Vec<String>,
}

/// What a cook did, for messages and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookReport {
    /// External units compiled (not fresh).
    pub compiled: usize,
    /// External units that were already up to date.
    pub fresh: usize,
    /// Paths removed from the target directory.
    pub removed: usize,
}

/// The default target selection, the same one `build` makes: every
/// selected binary (all of the members' when none was recorded) with
/// `--bin`, and `-p` for each package owning one.
pub fn default_selection(recipe: &Recipe, bins: &[String], examples: &[String]) -> Vec<String> {
    let mut all_bins: Vec<(&str, &str)> = Vec::new();
    let mut all_examples: Vec<(&str, &str)> = Vec::new();
    for pkg in recipe.skeleton.packages.values().filter(|p| p.member) {
        for t in &pkg.targets {
            match t.kind {
                TargetKind::Bin => all_bins.push((t.name.as_str(), pkg.name.as_str())),
                TargetKind::Example => all_examples.push((t.name.as_str(), pkg.name.as_str())),
                _ => {}
            }
        }
    }
    let mut chosen: Vec<(&str, &str, &str)> = Vec::new();
    if bins.is_empty() && examples.is_empty() {
        chosen.extend(all_bins.iter().map(|(b, p)| ("--bin", *b, *p)));
    }
    for b in bins {
        if let Some((n, p)) = all_bins.iter().find(|(n, _)| n == b) {
            chosen.push(("--bin", n, p));
        }
    }
    for e in examples {
        if let Some((n, p)) = all_examples.iter().find(|(n, _)| n == e) {
            chosen.push(("--example", n, p));
        }
    }
    chosen.sort();
    chosen.dedup();
    let mut args = Vec::new();
    for (flag, n, _) in &chosen {
        args.push(flag.to_string());
        args.push(n.to_string());
    }
    let pkgs: BTreeSet<&str> = chosen.iter().map(|(_, _, p)| *p).collect();
    for p in pkgs {
        args.push("-p".into());
        args.push(p.to_string());
    }
    args
}

/// Writes the skeleton and (unless `no_build`) builds the dependencies.
pub fn cook(
    recipe: &Recipe,
    opts: &CookOptions,
    plan: &CookPlan,
    reporter: &dyn Reporter,
) -> Result<CookReport> {
    let files = skeleton::files(recipe, opts.no_std);
    skeleton::write(&opts.dir, &files, opts.force)?;
    reporter.step(&format!(
        "wrote the skeleton ({} files) in {}",
        files.len(),
        opts.dir.display()
    ));
    let mut report = CookReport::default();
    if opts.no_build {
        return Ok(report);
    }
    let dir = std::fs::canonicalize(&opts.dir).map_err(|e| Error::io("reading", &opts.dir, e))?;
    let manifest = resolve(&dir, &recipe.skeleton.workspace).join("Cargo.toml");
    let dummies: BTreeSet<PathBuf> = recipe
        .skeleton
        .packages
        .keys()
        .filter_map(|m| resolve(&dir, m).parent().map(Path::to_path_buf))
        .collect();
    let mut pkg_names = BTreeSet::new();
    let mut stems = BTreeSet::new();
    for p in recipe.skeleton.packages.values() {
        pkg_names.insert(p.name.clone());
        for t in &p.targets {
            if t.kind != TargetKind::BuildScript {
                stems.insert(t.name.clone());
                stems.insert(t.name.replace('-', "_"));
            }
        }
    }

    // Resolve every toolchain first, so a missing piece fails fast.
    let mut commands: Vec<(String, Command)> = Vec::new();
    for &p in &plan.platforms {
        let tc = toolchain::prepare(p, plan.libc, reporter)?;
        commands.push((p.to_string(), tc.cargo_command(&plan.command, &opts.dir)));
    }
    for t in &plan.targets {
        let cargo = toolchain::rust::candidates()
            .into_iter()
            .next()
            .map(|t| t.cargo)
            .unwrap_or_else(|| PathBuf::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&opts.dir);
        cmd.arg(&plan.command).arg("--target").arg(t);
        commands.push((t.clone(), cmd));
    }
    for (what, mut cmd) in commands {
        reporter.step(&format!("cooking dependencies for {what}"));
        cmd.arg("--manifest-path").arg(&manifest);
        cmd.arg("--message-format=json-render-diagnostics");
        cmd.args(plan.profile.cargo_args());
        cmd.args(plan.features.cargo_args());
        cmd.args(plan.cargo.cargo_args());
        if !reporter.verbose_children() && !plan.cargo.quiet {
            cmd.arg("--quiet");
        }
        cmd.args(&plan.selection);
        cmd.args(&plan.extra);
        let units = run(&mut cmd, &what)?;
        let mut external = BTreeSet::new();
        let mut profile_dirs = BTreeSet::new();
        for u in &units {
            for p in &u.paths {
                if let Some(d) = profile_dir(p) {
                    profile_dirs.insert(d);
                }
            }
            if !is_dummy(&u.package_id, &dummies) {
                if u.artifact {
                    if u.fresh {
                        report.fresh += 1;
                    } else {
                        report.compiled += 1;
                    }
                }
                for p in &u.paths {
                    external.extend(hashes(p));
                }
            }
        }
        for d in &profile_dirs {
            report.removed += remove_dummies(d, &pkg_names, &stems, &external)?;
        }
    }
    Ok(report)
}

/// One unit from cargo's JSON messages.
struct Unit {
    package_id: String,
    fresh: bool,
    artifact: bool,
    paths: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    package_id: String,
    #[serde(default)]
    fresh: bool,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    out_dir: Option<PathBuf>,
}

fn run(cmd: &mut Command, what: &str) -> Result<Vec<Unit>> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| process::spawn_error(cmd, e))?;
    let stdout = child.stdout.take().expect("piped");
    let mut units = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Error::new(format!("reading cargo output: {e}")))?;
        let Ok(m) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        match m.reason.as_str() {
            "compiler-artifact" => {
                let mut paths = m.filenames;
                paths.extend(m.executable);
                units.push(Unit {
                    package_id: m.package_id,
                    fresh: m.fresh,
                    artifact: true,
                    paths,
                });
            }
            "build-script-executed" => units.push(Unit {
                package_id: m.package_id,
                fresh: true,
                artifact: false,
                paths: m.out_dir.into_iter().collect(),
            }),
            _ => {}
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("waiting for cargo: {e}")))?;
    if !status.success() {
        return Err(Error::new(format!(
            "cooking the dependencies for {what} failed ({status})"
        ))
        .hint(format!(
            "cargo's messages above say why; the command was: {}",
            process::display(cmd)
        )));
    }
    Ok(units)
}

/// Whether a cargo package id names one of the dummy packages
/// (`path+file:///dir#name@version`).
fn is_dummy(package_id: &str, dummies: &BTreeSet<PathBuf>) -> bool {
    let Some(rest) = package_id.strip_prefix("path+file://") else {
        return false;
    };
    let dir = rest.split('#').next().unwrap_or(rest);
    let dir = percent_decode(dir);
    dummies.contains(Path::new(&dir))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `name-<hex hash>` (with an optional extension): (name, hash).
fn split_hash(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let (name, hash) = stem.rsplit_once('-')?;
    (hash.len() >= 8 && hash.bytes().all(|c| c.is_ascii_hexdigit())).then_some((name, hash))
}

/// The unit hashes in a path's components.
fn hashes(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| {
            let s = c.as_os_str().to_str()?;
            split_hash(s).map(|(_, h)| h.to_string())
        })
        .collect()
}

/// The profile directory (`target/<triple>/debug`) a cargo output lies in.
fn profile_dir(p: &Path) -> Option<PathBuf> {
    for a in p.ancestors().skip(1) {
        let name = a.file_name()?.to_str()?;
        if matches!(name, "deps" | "build" | "examples") {
            return a.parent().map(Path::to_path_buf);
        }
        if a.join(".fingerprint").is_dir() {
            return Some(a.to_path_buf());
        }
    }
    None
}

fn remove(p: &Path) -> Result<usize> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    match r {
        Ok(()) => Ok(1),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io("removing", p, e)),
    }
}

fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Removes the dummy packages' units from one profile directory: their
/// fingerprints and build-script directories (by package name), compiled
/// files (by target name) and uplifted copies; never a unit whose hash an
/// external package produced.
fn remove_dummies(
    dir: &Path,
    pkgs: &BTreeSet<String>,
    stems: &BTreeSet<String>,
    external: &BTreeSet<String>,
) -> Result<usize> {
    let mut n = 0;
    for sub in [".fingerprint", "build"] {
        for (name, path) in entries(&dir.join(sub)) {
            if let Some((pkg, hash)) = split_hash(&name)
                && pkgs.contains(pkg)
                && !external.contains(hash)
            {
                n += remove(&path)?;
            }
        }
    }
    for sub in ["deps", "examples", "incremental"] {
        for (name, path) in entries(&dir.join(sub)) {
            let Some((stem, hash)) = split_hash(&name) else {
                if sub == "examples" && path.is_file() {
                    let base = name.split('.').next().unwrap_or(&name);
                    if stems.contains(base) {
                        n += remove(&path)?;
                    }
                }
                continue;
            };
            let stem = stem
                .strip_prefix("lib")
                .filter(|s| stems.contains(*s))
                .unwrap_or(stem);
            if stems.contains(stem) && !external.contains(hash) {
                n += remove(&path)?;
            }
        }
    }
    for (name, path) in entries(dir) {
        if !path.is_file() {
            continue;
        }
        let base = name.split('.').next().unwrap_or(&name);
        let base = base
            .strip_prefix("lib")
            .filter(|s| stems.contains(*s))
            .unwrap_or(base);
        if stems.contains(base) {
            n += remove(&path)?;
        }
    }
    Ok(n)
}
