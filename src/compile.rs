//! Runs cargo for each platform with the toolchain's settings, collects the
//! executables from `--message-format=json`, verifies each one is static
//! and copies it (optionally stripped) to the output directory.
//!
//! [`Compiler`] is the seam around the compiler: image and output tests
//! swap in a fake that writes a stub binary, so they need no toolchain.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inspect::{self, BinaryReport};
use crate::platform::Platform;
use crate::process;
use crate::project::Project;
use crate::reporter::Reporter;
use crate::toolchain::{self, LibcChoice};

/// A cargo profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Dev,
    Release,
    Custom(String),
}

impl Profile {
    /// From `--release` / `--profile NAME`.
    pub fn from_flags(release: bool, profile: Option<&str>) -> Profile {
        match (release, profile) {
            (_, Some("dev")) | (_, Some("debug")) => Profile::Dev,
            (_, Some("release")) => Profile::Release,
            (_, Some(p)) => Profile::Custom(p.to_string()),
            (true, None) => Profile::Release,
            (false, None) => Profile::Dev,
        }
    }
    /// The profile's name as cargo knows it.
    pub fn name(&self) -> &str {
        match self {
            Profile::Dev => "dev",
            Profile::Release => "release",
            Profile::Custom(n) => n,
        }
    }
    /// The directory under `target/<triple>/` cargo writes to.
    pub fn dir_name(&self) -> &str {
        match self {
            Profile::Dev => "debug",
            other => other.name(),
        }
    }
    /// The cargo arguments that select it.
    pub fn cargo_args(&self) -> Vec<String> {
        match self {
            Profile::Dev => vec![],
            Profile::Release => vec!["--release".into()],
            Profile::Custom(n) => vec!["--profile".into(), n.clone()],
        }
    }
}

/// Feature selection, as cargo takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Features {
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
}

impl Features {
    /// The cargo arguments for this selection.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.features.is_empty() {
            v.push("--features".into());
            v.push(self.features.join(","));
        }
        if self.all_features {
            v.push("--all-features".into());
        }
        if self.no_default_features {
            v.push("--no-default-features".into());
        }
        v
    }
}

/// Cargo's own switches that we pass through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CargoFlags {
    pub locked: bool,
    pub frozen: bool,
    pub offline: bool,
    pub jobs: Option<u32>,
    pub verbose: bool,
    pub quiet: bool,
    pub target_dir: Option<PathBuf>,
}

impl CargoFlags {
    /// The cargo arguments for these flags.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.locked {
            v.push("--locked".into());
        }
        if self.frozen {
            v.push("--frozen".into());
        }
        if self.offline {
            v.push("--offline".into());
        }
        if let Some(j) = self.jobs {
            v.push("-j".into());
            v.push(j.to_string());
        }
        if self.verbose {
            v.push("-v".into());
        }
        if self.quiet {
            v.push("--quiet".into());
        }
        if let Some(t) = &self.target_dir {
            v.push("--target-dir".into());
            v.push(t.display().to_string());
        }
        v
    }
}

/// What to build: a validated plan, made once from flags and config.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub project: Project,
    /// Where cargo runs (its config files are found from here).
    pub cwd: PathBuf,
    pub platforms: Vec<Platform>,
    pub profile: Profile,
    pub features: Features,
    /// Binaries to build (empty: all of the workspace's).
    pub bins: Vec<String>,
    pub cargo: CargoFlags,
    pub strip: bool,
    /// Where results are copied to.
    pub out_dir: PathBuf,
    pub libc: LibcChoice,
}

/// One executable for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub bin: String,
    pub package: String,
    pub platform: Platform,
    /// The copy in the output directory.
    pub path: PathBuf,
    pub report: BinaryReport,
}

/// Turns a [`BuildRequest`] into artifacts.
pub trait Compiler {
    fn build(&self, req: &BuildRequest, reporter: &dyn Reporter) -> Result<Vec<Artifact>>;
}

/// The real compiler: cargo with a musl [`toolchain::Toolchain`].
pub struct CargoCompiler;

#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    #[serde(default)]
    target: Option<CargoTarget>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    package_id: Option<String>,
    /// `build-script-executed`: the libraries a build script asked to link.
    #[serde(default)]
    linked_libs: Vec<String>,
}

/// A library a build script asked to link dynamically (`dylib=NAME`).
fn dylib_name(spec: &str) -> Option<&str> {
    let name = spec.strip_prefix("dylib=")?;
    Some(name.split(':').next_back().unwrap_or(name))
}

#[derive(Deserialize)]
struct CargoTarget {
    name: String,
    kind: Vec<String>,
}

impl Compiler for CargoCompiler {
    fn build(&self, req: &BuildRequest, reporter: &dyn Reporter) -> Result<Vec<Artifact>> {
        let bins = req.project.select_bins(&req.bins)?;
        // Resolve every toolchain before compiling anything, so a missing
        // piece for the second platform fails fast.
        let mut toolchains = Vec::new();
        for &p in &req.platforms {
            toolchains.push(toolchain::prepare(p, req.libc, reporter)?);
        }
        let mut staged: Vec<(Artifact, PathBuf)> = Vec::new();
        for tc in &toolchains {
            reporter.step(&format!("building {} for {}", names(&bins), tc.platform));
            let exes = run_cargo(tc, req, &bins, reporter)?;
            for (bin, exe) in exes {
                let report = inspect::inspect_file(&exe)?;
                inspect::verify_static(&exe, &report, tc.platform)?;
                toolchain::libc::verify_linked(&exe, &report, tc.platform, req.libc)?;
                let package = req
                    .project
                    .package_of(&bin)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                staged.push((
                    Artifact {
                        bin,
                        package,
                        platform: tc.platform,
                        path: PathBuf::new(),
                        report,
                    },
                    exe,
                ));
            }
        }
        // Everything built and verified: now write the outputs.
        let mut out = Vec::new();
        for (mut art, exe) in staged {
            let dest = output_path(&req.out_dir, art.platform, &art.bin, req.platforms.len());
            let tc = toolchains
                .iter()
                .find(|t| t.platform == art.platform)
                .expect("a toolchain per platform");
            install(&exe, &dest, req.strip.then_some(tc.c.strip.as_deref()))?;
            art.report = inspect::inspect_file(&dest)?;
            art.path = dest;
            out.push(art);
        }
        Ok(out)
    }
}

fn names(bins: &[crate::project::BinTarget]) -> String {
    bins.iter()
        .map(|b| b.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a binary goes in the output directory: `<out>/<bin>` for one
/// platform, `<out>/linux-<arch>/<bin>` for several, so platforms never
/// overwrite each other.
pub fn output_path(out_dir: &Path, platform: Platform, bin: &str, nplatforms: usize) -> PathBuf {
    if nplatforms <= 1 {
        return out_dir.join(bin);
    }
    out_dir
        .join(format!("{}-{}", platform.oci_os(), platform.oci_arch()))
        .join(bin)
}

/// Runs cargo for one platform; returns (bin name, executable path).
fn run_cargo(
    tc: &toolchain::Toolchain,
    req: &BuildRequest,
    bins: &[crate::project::BinTarget],
    reporter: &dyn Reporter,
) -> Result<Vec<(String, PathBuf)>> {
    let mut cmd: Command = tc.cargo_command("build", &req.cwd);
    cmd.arg("--manifest-path")
        .arg(req.project.workspace_root.join("Cargo.toml"));
    cmd.arg("--message-format=json-render-diagnostics");
    cmd.args(req.profile.cargo_args());
    cmd.args(req.features.cargo_args());
    cmd.args(req.cargo.cargo_args());
    if !reporter.verbose_children() && !req.cargo.quiet {
        cmd.arg("--quiet");
    }
    for b in bins {
        cmd.arg("--bin").arg(&b.name);
    }
    // Build from a workspace with several packages: select the packages
    // that own the bins, so `--bin` resolves.
    let mut pkgs: Vec<&str> = bins.iter().map(|b| b.package.as_str()).collect();
    pkgs.sort();
    pkgs.dedup();
    for p in pkgs {
        cmd.arg("-p").arg(p);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| process::spawn_error(&cmd, e))?;
    let stdout = child.stdout.take().expect("piped");
    let mut exes = Vec::new();
    let mut dylibs: Vec<String> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Error::new(format!("reading cargo output: {e}")))?;
        let Ok(msg) = serde_json::from_str::<CargoMessage>(&line) else {
            continue;
        };
        if msg.reason == "build-script-executed" {
            let pkg = msg.package_id.as_deref().map(package_name).unwrap_or("?");
            for lib in msg.linked_libs.iter().filter_map(|l| dylib_name(l)) {
                dylibs.push(format!("{lib} (from {pkg}'s build script)"));
            }
            continue;
        }
        if msg.reason != "compiler-artifact" {
            continue;
        }
        let (Some(t), Some(exe)) = (msg.target, msg.executable) else {
            continue;
        };
        if t.kind.iter().any(|k| k == "bin") && bins.iter().any(|b| b.name == t.name) {
            exes.push((t.name, exe));
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("waiting for cargo: {e}")))?;
    if !status.success() && !dylibs.is_empty() {
        return Err(Error::new(format!(
            "cargo build for {} failed: a build script links shared libraries, which a static binary cannot use: {}",
            tc.platform,
            dylibs.join(", ")
        ))
        .hint("make the -sys crate link statically (often a `static` or `vendored` feature, or an env var like FOO_STATIC=1) or drop the dependency"));
    }
    if !status.success() {
        return Err(
            Error::new(format!("cargo build for {} failed ({status})", tc.platform)).hint(format!(
                "cargo's messages above say why; the command was: {}",
                process::display(&cmd)
            )),
        );
    }
    exes.sort();
    exes.dedup();
    Ok(exes)
}

/// The package name from a cargo package id (both the old `name version
/// (source)` form and the newer `source#name@version` form).
fn package_name(id: &str) -> &str {
    if let Some((_, rest)) = id.rsplit_once('#') {
        return rest.split('@').next().unwrap_or(rest);
    }
    id.split(' ').next().unwrap_or(id)
}

/// Copies `src` to `dest` through a temporary name (stripping it with
/// `strip` when asked), so `dest` is either the old file or the whole new
/// one.
fn install(src: &Path, dest: &Path, strip: Option<Option<&Path>>) -> Result<()> {
    let dir = dest.parent().expect("output paths have a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".muslrust-chef-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a file in", dir, e))?;
    std::fs::copy(src, tmp.path()).map_err(|e| Error::io("copying", src, e))?;
    if let Some(strip) = strip {
        let strip = strip.ok_or_else(|| {
            Error::new("--strip needs a `strip` for this platform and none was found")
                .hint("apt-get install binutils (and binutils-aarch64-linux-gnu for linux/arm64)")
        })?;
        process::run_captured(Command::new(strip).arg("--strip-all").arg(tmp.path()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("setting permissions on", tmp.path(), e))?;
    tmp.persist(dest)
        .map_err(|e| Error::io("writing", dest, e.error))?;
    Ok(())
}
