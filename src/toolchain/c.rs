//! The C side of a musl target: compiler (also the linker), archiver,
//! strip, musl's own files and an unwinder. Found on the machine, with the
//! usual `CC_<triple>` / `CARGO_TARGET_<TRIPLE>_LINKER` overrides honoured.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::platform::{Arch, Platform};
use crate::process;

/// A C toolchain for one musl target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CToolchain {
    /// The C compiler (a musl-gcc style wrapper).
    pub cc: PathBuf,
    /// Whether `cc` came from the user's environment.
    pub cc_from_env: bool,
    /// The archiver.
    pub ar: PathBuf,
    /// `strip` able to handle the target's ELF files.
    pub strip: Option<PathBuf>,
    /// musl's `libc.a`, as the compiler resolves it.
    pub libc_a: PathBuf,
}

fn cc_env_names(triple: &str) -> [String; 3] {
    [
        format!("CC_{}", triple.replace('-', "_")),
        format!("CC_{triple}"),
        "TARGET_CC".to_string(),
    ]
}

/// Names of C compilers we look for, in order.
pub fn cc_candidates(platform: Platform) -> Vec<&'static str> {
    let host = Platform::host();
    let mut v = Vec::new();
    match platform.arch {
        Arch::X86_64 => v.push("x86_64-linux-musl-gcc"),
        Arch::Aarch64 => v.push("aarch64-linux-musl-gcc"),
    }
    if host == Some(platform) {
        v.push("musl-gcc");
    }
    v
}

fn find_tool(names: &[String]) -> Option<PathBuf> {
    names.iter().find_map(|n| which::which(n).ok())
}

/// Finds the C toolchain for `platform`.
pub fn detect(platform: Platform) -> Result<CToolchain> {
    let triple = platform.triple();
    let from_env = cc_env_names(triple)
        .iter()
        .find_map(|n| std::env::var_os(n).filter(|v| !v.is_empty()));
    let (cc, cc_from_env) = match from_env {
        Some(v) => {
            let p = PathBuf::from(&v);
            let resolved = if p.components().count() > 1 {
                p
            } else {
                which::which(&v).map_err(|_| {
                    Error::new(format!(
                        "the C compiler `{}` (from CC_{}) is not on PATH",
                        p.display(),
                        triple
                    ))
                })?
            };
            (resolved, true)
        }
        None => {
            let names: Vec<String> = cc_candidates(platform)
                .iter()
                .map(|s| s.to_string())
                .collect();
            let cc = find_tool(&names).ok_or_else(|| {
                Error::new(format!(
                    "no musl C compiler for {platform} (looked for {})",
                    names.join(", ")
                ))
                .hint(install_hint(platform))
            })?;
            (cc, false)
        }
    };
    let gnu = platform.gnu_arch();
    let same_arch = Platform::host() == Some(platform);
    let ar_names: Vec<String> = if same_arch {
        vec!["ar".into(), format!("{gnu}-linux-gnu-ar")]
    } else {
        vec![
            format!("{gnu}-linux-gnu-ar"),
            format!("{gnu}-linux-musl-ar"),
            "llvm-ar".into(),
        ]
    };
    let ar = find_tool(&ar_names).ok_or_else(|| {
        Error::new(format!("no archiver (ar) for {platform}")).hint(install_hint(platform))
    })?;
    let strip_names: Vec<String> = if same_arch {
        vec![
            "strip".into(),
            format!("{gnu}-linux-gnu-strip"),
            "llvm-strip".into(),
        ]
    } else {
        vec![
            format!("{gnu}-linux-gnu-strip"),
            format!("{gnu}-linux-musl-strip"),
            "llvm-strip".into(),
        ]
    };
    let strip = find_tool(&strip_names);
    let libc_a = find_libc(&cc).map_err(|e| e.hint(install_hint(platform)))?;
    Ok(CToolchain {
        cc,
        cc_from_env,
        ar,
        strip,
        libc_a,
    })
}

/// Finds the `libc.a` that `cc` really links, by linking an empty program
/// with `--trace` (`-print-file-name` ignores musl-gcc's specs and names
/// glibc's).
pub fn find_libc(cc: &Path) -> Result<PathBuf> {
    let dir = tempfile::tempdir().map_err(|e| Error::new(format!("creating a temp dir: {e}")))?;
    let src = dir.path().join("empty.c");
    std::fs::write(&src, "int main(void) { return 0; }\n")
        .map_err(|e| Error::io("writing", &src, e))?;
    let out = process::run_captured(
        Command::new(cc)
            .arg("-static")
            .arg(&src)
            .arg("-o")
            .arg(dir.path().join("empty"))
            .arg("-Wl,--trace"),
    )
    .map_err(|e| {
        Error::new(format!("{} cannot link a static C program", cc.display())).source(e)
    })?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .map(|l| l.trim().trim_start_matches('('))
        .map(|l| l.split(')').next().unwrap_or(l))
        .find(|l| l.ends_with("/libc.a"))
        .map(PathBuf::from)
        .ok_or_else(|| Error::new(format!("{} links no libc.a", cc.display())))
}

/// The Debian packages that provide a musl C toolchain for `platform`.
pub fn install_hint(platform: Platform) -> String {
    match (platform.arch, Platform::host() == Some(platform)) {
        (_, true) => "apt-get install musl-tools".to_string(),
        (Arch::Aarch64, false) => "dpkg --add-architecture arm64 && apt-get update && apt-get install gcc-aarch64-linux-gnu musl-dev:arm64".to_string(),
        (Arch::X86_64, false) => "dpkg --add-architecture amd64 && apt-get update && apt-get install gcc-x86-64-linux-gnu musl-dev:amd64".to_string(),
    }
}

/// Where an unwinder library (`libunwind.a`) for `platform` may be.
pub fn unwind_candidates(platform: Platform, rust_sysroot: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(dir) = std::env::var_os(format!(
        "MUSLRUST_CHEF_LIBUNWIND_{}",
        platform.gnu_arch().to_ascii_uppercase()
    )) {
        v.push(PathBuf::from(dir));
    }
    if let Some(sr) = rust_sysroot {
        v.push(
            sr.join("lib/rustlib")
                .join(platform.triple())
                .join("lib/self-contained/libunwind.a"),
        );
    }
    let gnu = platform.gnu_arch();
    v.push(PathBuf::from(format!(
        "/usr/lib/{gnu}-linux-musl/libunwind.a"
    )));
    v.push(PathBuf::from(format!(
        "/usr/local/musl/{gnu}-linux-musl/lib/libunwind.a"
    )));
    if Platform::host() == Some(platform) {
        for ver in ["19", "18", "17", "16", "15", "14", "13"] {
            v.push(PathBuf::from(format!(
                "/usr/lib/llvm-{ver}/lib/libunwind.a"
            )));
        }
    } else {
        for ver in ["19", "18", "17", "16", "15", "14", "13"] {
            v.push(PathBuf::from(format!(
                "/opt/muslrust-chef/libunwind-{}/usr/lib/llvm-{ver}/lib/libunwind.a",
                platform.debian_arch()
            )));
        }
    }
    v
}

/// Finds `libunwind.a` for `platform`.
pub fn find_unwind(platform: Platform, rust_sysroot: Option<&Path>) -> Result<PathBuf> {
    unwind_candidates(platform, rust_sysroot)
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::new(format!("no unwinder (libunwind.a) for {platform}"))
                .hint(unwind_hint(platform))
        })
}

/// How to install an unwinder for `platform`.
pub fn unwind_hint(platform: Platform) -> String {
    if Platform::host() == Some(platform) {
        "apt-get install libunwind-14-dev".to_string()
    } else {
        let a = platform.debian_arch();
        format!(
            "cd \"$(mktemp -d)\" && apt-get download libunwind-14-dev:{a} && mkdir -p /opt/muslrust-chef/libunwind-{a} && dpkg-deb -x libunwind-14-dev_*_{a}.deb /opt/muslrust-chef/libunwind-{a}  (or run scripts/bootstrap.sh)"
        )
    }
}
