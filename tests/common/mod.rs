//! Shared helpers for integration tests: run the real binary, make temp
//! fixture projects, and require external components.
//!
//! A test that needs Docker, a registry, a musl toolchain or qemu calls
//! [`require`]: in CI (`MUSLRUST_CHEF_REQUIRE_ALL=1`, set by
//! `scripts/test.sh`) a missing piece fails the test; locally the test is
//! skipped with a message saying how to enable it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_muslrust-chef"))
}

/// A command running the binary under test.
pub fn chef() -> Command {
    Command::new(bin())
}

/// Whether missing components must fail tests (CI) instead of skipping.
pub fn strict() -> bool {
    std::env::var("MUSLRUST_CHEF_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Checks a component; returns false (test should return early) when it is
/// missing locally, panics when it is missing in strict mode.
#[must_use]
pub fn require(what: &str, present: bool, how: &str) -> bool {
    if present {
        return true;
    }
    if strict() {
        panic!("{what} is required (MUSLRUST_CHEF_REQUIRE_ALL=1) but missing; {how}");
    }
    eprintln!("SKIPPED: {what} is missing; {how}");
    false
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    which(tool).is_some()
}

/// The path of `tool` on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// Requires everything a musl build for both platforms needs.
#[must_use]
pub fn require_musl_toolchains() -> bool {
    let out = chef()
        .args(["doctor", "--json"])
        .output()
        .expect("runs doctor");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json is JSON");
    let ready = v["platforms"].as_array().unwrap().iter().all(|p| {
        p["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    });
    require(
        "musl toolchains for linux/amd64 and linux/arm64",
        ready,
        "run scripts/bootstrap.sh (see `muslrust-chef doctor`)",
    ) && require(
        "qemu-aarch64-static",
        have("qemu-aarch64-static"),
        "apt-get install qemu-user-static",
    )
}

/// Output with stdout/stderr as strings, for assertions and messages.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert!(
            self.status.success(),
            "command failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn failed(&self) -> &Self {
        assert!(
            !self.status.success(),
            "command unexpectedly succeeded:\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs a command and captures everything.
pub fn run(cmd: &mut Command) -> Run {
    cmd.output().expect("command starts").into()
}

/// A temporary Cargo project built from files.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture with the given (path, contents) files.
    pub fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("muslrust-chef-test-")
            .tempdir()
            .unwrap();
        for (path, contents) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        Fixture { dir }
    }

    /// A single binary crate named `name` with `main_rs` as src/main.rs.
    pub fn bin_crate(name: &str, main_rs: &str) -> Fixture {
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
        );
        Fixture::new(&[("Cargo.toml", &manifest), ("src/main.rs", main_rs)])
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, contents: &str) {
        let p = self.dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
}

/// Runs an executable for `platform` (natively or under qemu) and returns
/// its output.
pub fn run_for_platform(exe: &Path, platform: &str) -> Run {
    let mut cmd = if platform == "linux/arm64" && std::env::consts::ARCH != "aarch64" {
        let mut c = Command::new("qemu-aarch64-static");
        c.arg(exe);
        c
    } else {
        Command::new(exe)
    };
    run(&mut cmd)
}
