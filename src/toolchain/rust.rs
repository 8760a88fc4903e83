//! Finding a Rust toolchain that can build for a musl target, and how it
//! gets its std: installed by rustup, or built from the toolchain's own
//! library sources into a cached sysroot. Detected, never configured.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::process;

/// A rustc + cargo pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustToolchain {
    pub rustc: PathBuf,
    pub cargo: PathBuf,
    /// `rustc -vV`'s `release:` line, e.g. `1.96.0`.
    pub release: String,
    /// `rustc -vV`'s `commit-hash:` line (or `unknown`).
    pub commit: String,
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
}

/// Where std for a target comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdStrategy {
    /// The toolchain already has the target's std (e.g. `rustup target add`).
    Installed,
    /// Build std from these library sources into a cached sysroot.
    BuildFromSource { library: PathBuf },
}

impl RustToolchain {
    /// Identifies the toolchain whose `rustc` is `rustc`, `cargo` beside it.
    pub fn probe(rustc: &Path, cargo: &Path) -> Result<RustToolchain> {
        let vv = process::stdout_of(Command::new(rustc).arg("-vV"))?;
        let field = |k: &str| {
            vv.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
        };
        let sysroot = process::stdout_of(Command::new(rustc).args(["--print", "sysroot"]))?;
        Ok(RustToolchain {
            rustc: rustc.to_path_buf(),
            cargo: cargo.to_path_buf(),
            release: field("release:").unwrap_or_else(|| "unknown".into()),
            commit: field("commit-hash:").unwrap_or_else(|| "unknown".into()),
            sysroot: sysroot.into(),
        })
    }

    /// `rustc 1.96.0 (/usr/bin/rustc)`, for messages.
    pub fn describe(&self) -> String {
        format!("rustc {} ({})", self.release, self.rustc.display())
    }

    /// A short id for cache keys: release and commit.
    pub fn cache_id(&self) -> String {
        let commit: String = self.commit.chars().take(12).collect();
        format!("{}-{}", self.release, commit)
    }

    /// Whether the target's std is installed in this toolchain.
    pub fn has_std_for(&self, triple: &str) -> bool {
        let dir = self.sysroot.join("lib/rustlib").join(triple).join("lib");
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten().any(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.starts_with("libstd-") && n.ends_with(".rlib")
                })
            })
            .unwrap_or(false)
    }

    /// The toolchain's library sources (rust-src), if present.
    pub fn library_src(&self) -> Option<PathBuf> {
        let lib = self.sysroot.join("lib/rustlib/src/rust/library");
        lib.join("std/Cargo.toml").is_file().then_some(lib)
    }

    /// How this toolchain gets std for `triple`, if it can.
    pub fn std_strategy(&self, triple: &str) -> Option<StdStrategy> {
        if self.has_std_for(triple) {
            Some(StdStrategy::Installed)
        } else {
            self.library_src()
                .map(|library| StdStrategy::BuildFromSource { library })
        }
    }
}

/// Candidate toolchains, most preferred first: the one the user gets by
/// typing `cargo` (honouring `RUSTC`/`CARGO`), then the system one in
/// `/usr/bin` (Debian's `rustc-web`, which ships its library sources).
/// Probed once per process (each probe runs rustc twice; a build for two
/// platforms would otherwise probe every toolchain three times).
pub fn candidates() -> Vec<RustToolchain> {
    static PROBED: std::sync::OnceLock<Vec<RustToolchain>> = std::sync::OnceLock::new();
    PROBED.get_or_init(probe_candidates).clone()
}

fn probe_candidates() -> Vec<RustToolchain> {
    let mut out: Vec<RustToolchain> = Vec::new();
    let user_rustc = std::env::var_os("RUSTC")
        .map(PathBuf::from)
        .or_else(|| which::which("rustc").ok());
    let user_cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| which::which("cargo").ok());
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    if let (Some(r), Some(c)) = (user_rustc, user_cargo) {
        pairs.push((r, c));
    }
    pairs.push(("/usr/bin/rustc".into(), "/usr/bin/cargo".into()));
    pairs.push(("/usr/local/bin/rustc".into(), "/usr/local/bin/cargo".into()));
    for (r, c) in pairs {
        if !r.is_file() || !c.is_file() {
            continue;
        }
        if let Ok(tc) = RustToolchain::probe(&r, &c)
            && !out.iter().any(|o| o.sysroot == tc.sysroot)
        {
            out.push(tc);
        }
    }
    out
}

/// Picks the first toolchain that can build for `triple`.
pub fn select(triple: &str) -> Result<(RustToolchain, StdStrategy)> {
    let cands = candidates();
    for tc in &cands {
        if let Some(s) = tc.std_strategy(triple) {
            return Ok((tc.clone(), s));
        }
    }
    let tried: Vec<String> = cands.iter().map(|t| t.describe()).collect();
    Err(Error::new(format!(
        "no Rust toolchain here can build for {triple}: its std is not installed and no library sources (rust-src) were found{}",
        if tried.is_empty() { String::new() } else { format!(" (tried {})", tried.join(", ")) }
    ))
    .hint(fix_command(triple)))
}

/// The commands that give a toolchain a std for `triple`.
pub fn fix_command(triple: &str) -> String {
    format!(
        "run `rustup target add {triple}`; without internet access on Debian 12: `apt-get install -t bookworm-security rustc-web cargo-web rust-web-src` (or `rustup component add rust-src`)"
    )
}
