//! Builds std for a musl target from the toolchain's own library sources,
//! once per (rustc version, target), into a sysroot in the user's cache
//! directory that every later build of any project reuses.
//!
//! The build itself is done by `rustc-build-sysroot` (the crate Miri uses
//! for the same job); this module picks the directory, makes the build work
//! offline from the sources' vendored crates, and records completion so
//! that later builds only check a stamp file.

use std::path::{Path, PathBuf};
use std::process::Command;

use rustc_build_sysroot::{BuildMode, SysrootBuilder, SysrootConfig, SysrootStatus};

use crate::env;
use crate::error::{Error, Result};
use crate::reporter::Reporter;
use crate::toolchain::rust::RustToolchain;

/// Bump when the way std is built changes (flags, features).
const SYSROOT_FORMAT: u32 = 1;

/// Flags std is compiled with. Bitcode is embedded so that user crates
/// built with `lto = true` can still link it.
const STD_RUSTFLAGS: &[&str] = &["-Cembed-bitcode=yes", "-Cdebuginfo=1"];

/// The directory of the cached sysroot for `rust` (all targets share it).
pub fn sysroot_dir(rust: &RustToolchain) -> PathBuf {
    env::cache_dir()
        .join("sysroot")
        .join(format!("{}-v{SYSROOT_FORMAT}", rust.cache_id()))
}

/// The stamp file that says std for `triple` is complete in `sysroot`.
pub fn stamp_file(sysroot: &Path, triple: &str) -> PathBuf {
    sysroot
        .join("lib/rustlib")
        .join(triple)
        .join(".muslrust-chef-complete")
}

/// Whether std for `triple` is already cached for `rust`.
pub fn is_cached(rust: &RustToolchain, triple: &str) -> bool {
    stamp_file(&sysroot_dir(rust), triple).is_file()
}

/// Makes sure std for `triple` is in the cached sysroot; builds it if not.
/// Returns the sysroot to pass to rustc as `--sysroot`.
pub fn ensure(
    rust: &RustToolchain,
    library: &Path,
    triple: &str,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let dir = sysroot_dir(rust);
    let stamp = stamp_file(&dir, triple);
    if stamp.is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    // One builder at a time per sysroot (parallel builds or tests would
    // otherwise build the same std twice); the loser finds the stamp.
    let _lock = crate::toolchain::lock_file(&dir.join(".lock"))?;
    if stamp.is_file() {
        return Ok(dir);
    }
    reporter.step(&format!(
        "building std for {triple} with {} (once; cached in {})",
        rust.describe(),
        dir.display()
    ));
    let meta = rustc_version::VersionMeta::for_command(Command::new(&rust.rustc)).map_err(|e| {
        Error::new(format!(
            "could not read the version of {}",
            rust.rustc.display()
        ))
        .source(e)
    })?;
    let mut cargo = Command::new(&rust.cargo);
    cargo.env("RUSTC", &rust.rustc);
    cargo.env(env::RUSTC_BOOTSTRAP, "1");
    cargo.env_remove(env::RUSTFLAGS);
    cargo.env_remove("RUSTC_WRAPPER");
    cargo.env_remove("RUSTC_WORKSPACE_WRAPPER");
    let vendor = library.join("vendor");
    if vendor.is_dir() {
        // The sources carry their dependencies: build offline.
        cargo
            .arg("--config")
            .arg("source.crates-io.replace-with=\"muslrust-chef-vendored\"");
        cargo.arg("--config").arg(format!(
            "source.muslrust-chef-vendored.directory={}",
            serde_json::to_string(&vendor.to_string_lossy()).expect("strings serialize")
        ));
        cargo.arg("--offline");
    }
    let status = SysrootBuilder::new(&dir, triple)
        .build_mode(BuildMode::Build)
        .sysroot_config(SysrootConfig::WithStd {
            std_features: vec!["backtrace".into()],
        })
        .rustflags(STD_RUSTFLAGS.iter().copied())
        .rustc_version(meta)
        .cargo(cargo)
        .build_from_source(library)
        .map_err(|e| {
            Error::new(format!("building std for {triple} failed: {e:#}"))
                .hint("check that the toolchain's rust-src matches its rustc (`apt-get install -t bookworm-security rustc-web cargo-web rust-web-src` installs a matching pair)")
        })?;
    match status {
        SysrootStatus::SysrootBuilt | SysrootStatus::AlreadyCached => {}
    }
    std::fs::write(&stamp, rust.cache_id()).map_err(|e| Error::io("writing", &stamp, e))?;
    Ok(dir)
}
