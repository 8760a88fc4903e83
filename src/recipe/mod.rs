//! `prepare` and `cook`: dependency skeletons for cached builds.
//!
//! A [`Recipe`] is everything cargo needs to resolve and compile a
//! project's dependencies (manifests, `Cargo.lock`, cargo config, toolchain
//! file and the list of each package's targets) with the project's own code
//! left out, plus the build settings it was prepared for. Docker caches the
//! layer that cooks it for as long as the recipe's bytes stay the same, so
//! everything that changes often without touching dependencies (sources,
//! local versions, lints) is left out or masked, and the output is
//! deterministic (sorted, `BTreeMap`s).

pub mod cook;
pub mod lockfile;
pub mod prepare;
pub mod skeleton;
pub mod targets;
pub mod version_masking;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::BuildRequest;
use crate::error::{Error, Result};
use crate::platform::Platform;

pub use cook::{CookOptions, CookPlan, cook};
pub use prepare::{PrepareOptions, prepare};

/// Bump when the recipe's layout or meaning changes.
pub const FORMAT: u32 = 1;

/// The file name `prepare` writes and `cook` reads by default.
pub const DEFAULT_FILE: &str = "recipe.json";

/// A dependency skeleton plus the build settings it was prepared for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// [`FORMAT`] of the tool that wrote it.
    pub format: u32,
    /// `muslrust-chef <version>` that wrote it.
    pub generator: String,
    pub settings: Settings,
    pub skeleton: Skeleton,
}

/// The build settings recorded by `prepare`; `cook` uses them unless told
/// otherwise, and `build` warns when it is given different ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    /// Cargo profile name (`dev`, `release`, or a custom one).
    pub profile: String,
    /// Features to activate, sorted.
    pub features: Vec<String>,
    pub all_features: bool,
    pub default_features: bool,
    /// musl platforms (`linux/amd64`); empty with no `targets`: the host's.
    pub platforms: Vec<String>,
    /// Other target triples (`x86_64-unknown-linux-gnu`), built with plain cargo.
    pub targets: Vec<String>,
    /// Binaries selected with `--bin` (empty: all of the members').
    pub bins: Vec<String>,
    /// Examples selected with `--example`.
    pub examples: Vec<String>,
    /// The malloc linked into musl builds (`musl`, `mimalloc`).
    pub allocator: String,
    /// The string functions linked into musl builds (`musl`, `fast`).
    pub string_functions: String,
}

/// The files of the skeleton and the targets to fill with dummy sources.
/// Every path is relative to the directory `cook` writes into, uses `/`,
/// and never leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Skeleton {
    /// Where the workspace root (its `Cargo.toml`) lies; `.` unless path
    /// dependencies live outside the workspace root.
    pub workspace: String,
    /// Files written verbatim: manifests (masked), `Cargo.lock` (masked),
    /// cargo config, toolchain files, full sources of `[patch]`ed local
    /// crates.
    pub files: BTreeMap<String, String>,
    /// Local packages whose sources are replaced by dummies, by manifest path.
    pub packages: BTreeMap<String, PackageSkeleton>,
}

/// One local package with dummy sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSkeleton {
    pub name: String,
    /// A workspace member (as opposed to a path dependency outside it).
    pub member: bool,
    pub targets: Vec<Target>,
}

/// The kinds of target a dummy source is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Lib,
    ProcMacro,
    Bin,
    Example,
    Test,
    Bench,
    BuildScript,
}

/// A target of a local package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
    /// Its source file, relative to the cook directory.
    pub path: String,
    /// Whether cargo's test harness provides `main` (tests and benches).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub harness: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Recipe {
    /// The recipe as written to disk: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("recipes serialize");
        s.push('\n');
        s
    }

    /// Parses and validates a recipe: the format must be this tool's and no
    /// path may leave the cook directory.
    pub fn from_json(text: &str, origin: &Path) -> Result<Recipe> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::new(format!("{} is not a recipe: {e}", origin.display()))
                .hint("write one with `muslrust-chef prepare`")
        })?;
        let format = v.get("format").and_then(|f| f.as_u64());
        let generator = v
            .get("generator")
            .and_then(|g| g.as_str())
            .unwrap_or("an unknown tool (cargo-chef?)")
            .to_string();
        if format != Some(FORMAT as u64) || generator != generator_name() {
            return Err(Error::new(format!(
                "{} was written by {generator} (recipe format {}), but this is {} (recipe format {FORMAT})",
                origin.display(),
                format.map(|f| f.to_string()).unwrap_or_else(|| "none".into()),
                generator_name(),
            ))
            .hint("run `muslrust-chef prepare` and `cook` with the same version of muslrust-chef (the same builder image)"));
        }
        let recipe: Recipe = serde_json::from_value(v).map_err(|e| {
            Error::new(format!("{} is not a valid recipe: {e}", origin.display()))
                .hint("write it again with `muslrust-chef prepare`")
        })?;
        recipe.validate(origin)?;
        Ok(recipe)
    }

    fn validate(&self, origin: &Path) -> Result<()> {
        let check = |p: &str| check_relative(p, origin);
        check(&self.skeleton.workspace)?;
        for p in self.skeleton.files.keys() {
            check(p)?;
        }
        for (m, pkg) in &self.skeleton.packages {
            check(m)?;
            for t in &pkg.targets {
                check(&t.path)?;
            }
        }
        Ok(())
    }

    /// The musl platforms to build for: the recorded ones, else the host's
    /// (when no other target was recorded either).
    pub fn platforms(&self) -> Result<Vec<Platform>> {
        let mut out = Vec::new();
        for p in &self.settings.platforms {
            out.push(p.parse::<Platform>()?);
        }
        if out.is_empty()
            && self.settings.targets.is_empty()
            && let Some(h) = Platform::host()
        {
            out.push(h);
        }
        Ok(out)
    }
}

/// `muslrust-chef <version>`.
pub fn generator_name() -> String {
    format!("muslrust-chef {}", env!("CARGO_PKG_VERSION"))
}

/// Rejects absolute paths and `..`: a recipe only writes inside the cook
/// directory.
fn check_relative(p: &str, origin: &Path) -> Result<()> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && !p.contains('\\')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{} names the path `{p}`, which leaves the directory it is cooked in",
            origin.display()
        ))
        .hint("recipes only hold relative paths inside the project; write it again with `muslrust-chef prepare`"))
    }
}

/// Joins a recipe path (already validated) onto `base`.
pub fn resolve(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

/// Reads and validates a recipe file.
pub fn load(path: &Path) -> Result<Recipe> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let err = Error::io("reading the recipe", path, e);
        err.hint("write one with `muslrust-chef prepare` (or pass --recipe-path FILE)")
    })?;
    Recipe::from_json(&text, path)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The differences between the settings a recipe was prepared for and a
/// build request, one sentence each. Any difference means the cooked
/// dependencies will not be reused.
pub fn compare_settings(recipe: &Recipe, req: &BuildRequest) -> Vec<String> {
    let s = &recipe.settings;
    let mut out = Vec::new();
    let mut diff = |what: &str, recipe: String, build: String| {
        if recipe != build {
            out.push(format!(
                "the recipe was prepared with {what} {recipe}, but this build uses {build}: the cooked dependencies will not be reused"
            ));
        }
    };
    diff(
        "profile",
        format!("`{}`", s.profile),
        format!("`{}`", req.profile.name()),
    );
    diff(
        "features",
        list(&sorted(&s.features)),
        list(&sorted(&req.features.features)),
    );
    diff(
        "--all-features",
        s.all_features.to_string(),
        req.features.all_features.to_string(),
    );
    diff(
        "default features",
        on_off(s.default_features),
        on_off(!req.features.no_default_features),
    );
    let recipe_platforms = match recipe.platforms() {
        Ok(p) => p.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        Err(_) => s.platforms.clone(),
    };
    let mut recipe_all: Vec<String> = recipe_platforms;
    recipe_all.extend(s.targets.iter().cloned());
    diff(
        "platforms",
        list(&sorted(&recipe_all)),
        list(&sorted(
            &req.platforms
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )),
    );
    diff("binaries", list(&sorted(&s.bins)), list(&sorted(&req.bins)));
    diff(
        "allocator",
        format!("`{}`", s.allocator),
        format!("`{}`", allocator_name(req.libc.allocator)),
    );
    diff(
        "string functions",
        format!("`{}`", s.string_functions),
        format!("`{}`", strings_name(req.libc.strings)),
    );
    out
}

fn on_off(b: bool) -> String {
    if b { "on".into() } else { "off".into() }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        format!("[{}]", v.join(", "))
    }
}

/// The recorded name of an allocator.
pub fn allocator_name(a: crate::toolchain::Allocator) -> &'static str {
    match a {
        crate::toolchain::Allocator::Musl => "musl",
        crate::toolchain::Allocator::Mimalloc => "mimalloc",
    }
}

/// The recorded name of a string-functions choice.
pub fn strings_name(s: crate::toolchain::StringFunctions) -> &'static str {
    match s {
        crate::toolchain::StringFunctions::Musl => "musl",
        crate::toolchain::StringFunctions::Fast => "fast",
    }
}

/// The libc choice a recipe records.
pub fn libc_of(s: &Settings) -> Result<crate::toolchain::LibcChoice> {
    use crate::toolchain::{Allocator, LibcChoice, StringFunctions};
    let allocator = match s.allocator.as_str() {
        "musl" => Allocator::Musl,
        "mimalloc" => Allocator::Mimalloc,
        other => {
            return Err(
                Error::new(format!("the recipe names an unknown allocator `{other}`"))
                    .hint("write it again with `muslrust-chef prepare`"),
            );
        }
    };
    let strings = match s.string_functions.as_str() {
        "musl" => StringFunctions::Musl,
        "fast" => StringFunctions::Fast,
        other => {
            return Err(Error::new(format!(
                "the recipe names unknown string functions `{other}`"
            ))
            .hint("write it again with `muslrust-chef prepare`"));
        }
    };
    Ok(LibcChoice { allocator, strings })
}

/// A relative path with `/` separators, for the recipe.
pub(crate) fn rel_string(base: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        Some(".".into())
    } else {
        Some(parts.join("/"))
    }
}
