//! `doctor`: what this machine can build, per platform, and the exact
//! command that fixes each missing piece. Detection only: nothing is built
//! or installed.

use serde::Serialize;

use crate::platform::Platform;
use crate::toolchain::{StdStrategy, c, rust, sysroot};

/// One checked piece.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found (or what is missing).
    pub detail: String,
    /// The command that fixes it, when missing.
    pub fix: Option<String>,
}

/// The checks for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformReport {
    pub platform: Platform,
    pub checks: Vec<Check>,
}

impl PlatformReport {
    /// Whether every piece needed to build is present.
    pub fn can_build(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Everything doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub platforms: Vec<PlatformReport>,
    pub docker: Check,
}

fn ok(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail,
        fix: None,
    }
}

fn missing(name: &str, detail: String, fix: String) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail,
        fix: Some(fix),
    }
}

/// Checks one platform.
pub fn check_platform(platform: Platform) -> PlatformReport {
    let triple = platform.triple();
    let mut checks = Vec::new();
    let mut rust_sysroot = None;
    match rust::select(triple) {
        Ok((tc, StdStrategy::Installed)) => {
            checks.push(ok("std", format!("installed in {}", tc.describe())));
            rust_sysroot = Some(tc.sysroot.clone());
        }
        Ok((tc, StdStrategy::BuildFromSource { library })) => {
            let cached = if sysroot::is_cached(&tc, triple) {
                format!("cached in {}", sysroot::sysroot_dir(&tc).display())
            } else {
                "built on first use (about a minute)".to_string()
            };
            checks.push(ok(
                "std",
                format!(
                    "from source {} with {}, {cached}",
                    library.display(),
                    tc.describe()
                ),
            ));
            rust_sysroot = Some(tc.sysroot.clone());
        }
        Err(e) => checks.push(missing(
            "std",
            e.message().to_string(),
            rust::fix_command(triple),
        )),
    }
    match c::detect(platform) {
        Ok(ct) => {
            checks.push(ok(
                "C toolchain",
                format!(
                    "{}{} (libc {})",
                    ct.cc.display(),
                    if ct.cc_from_env { " (from CC_*)" } else { "" },
                    ct.libc_a.display()
                ),
            ));
            let linker_var = format!("CARGO_TARGET_{}_LINKER", platform.env_triple());
            let linker = std::env::var(&linker_var)
                .map(|l| format!("{l} (from {linker_var})"))
                .unwrap_or_else(|_| format!("{} (the C compiler)", ct.cc.display()));
            checks.push(ok("linker", linker));
        }
        Err(e) => {
            checks.push(missing(
                "C toolchain",
                e.message().to_string(),
                c::install_hint(platform),
            ));
            checks.push(missing(
                "linker",
                "no C compiler to link with".into(),
                c::install_hint(platform),
            ));
        }
    }
    match c::find_unwind(platform, rust_sysroot.as_deref()) {
        Ok(p) => checks.push(ok("unwinder", p.display().to_string())),
        Err(e) => checks.push(missing(
            "unwinder",
            e.message().to_string(),
            c::unwind_hint(platform),
        )),
    }
    PlatformReport { platform, checks }
}

/// Whether a Docker daemon answers on its socket.
pub fn check_docker() -> Check {
    let host = std::env::var(crate::env::DOCKER_HOST)
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let reachable = match host.strip_prefix("unix://") {
        Some(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
        None => host
            .strip_prefix("tcp://")
            .map(|a| std::net::TcpStream::connect(a).is_ok())
            .unwrap_or(false),
    };
    if reachable {
        ok("docker daemon", format!("reachable at {host}"))
    } else {
        missing(
            "docker daemon",
            format!("not reachable at {host} (needed only for `image --load` and the Docker path)"),
            "apt-get install docker.io && (dockerd >/var/log/dockerd.log 2>&1 &)".into(),
        )
    }
}

/// Runs every check.
pub fn run(platforms: &[Platform]) -> Report {
    Report {
        platforms: platforms.iter().map(|&p| check_platform(p)).collect(),
        docker: check_docker(),
    }
}
