//! SLOW GROUP (needs a Docker engine; starts `dockerd` itself when run as
//! root): an image pushed by `muslrust-chef image --push`, and one stacked
//! with `--base REF` on a base pulled from the same test registry, are
//! pulled and run by `docker pull` + `docker run`. Docker trusts
//! 127.0.0.0/8 registries over plain HTTP by default, so no daemon config
//! is needed.

mod common;
#[path = "registry_support/mod.rs"]
mod registry_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Fixture, chef, run};
use registry_support::*;

fn docker_up() -> bool {
    let ok = || {
        Command::new("docker")
            .arg("info")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if ok() {
        return true;
    }
    if !common::have("dockerd") {
        return false;
    }
    let log = std::env::temp_dir().join("muslrust-chef-registry-dockerd.log");
    let Ok(file) = std::fs::File::create(&log) else {
        return false;
    };
    if Command::new("dockerd")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .is_err()
    {
        return false;
    }
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if Path::new("/var/run/docker.sock").exists() && ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

#[test]
fn docker_pulls_and_runs_pushed_images() {
    if !(require_registry()
        && common::require_musl_toolchains()
        && common::require(
            "a Docker engine",
            docker_up(),
            "apt-get install docker.io; run as root so the test can start dockerd",
        ))
    {
        return;
    }
    let reg = Registry::plain();
    let fx = Fixture::bin_crate(
        "dockerapp",
        "fn main() { println!(\"hello from the pushed image as uid {}\", std::fs::read_to_string(\"/proc/self/status\").unwrap().lines().find(|l| l.starts_with(\"Uid:\")).unwrap_or(\"?\")); }\n",
    );
    let image = |args: &[&str]| {
        let mut c = chef();
        c.current_dir(fx.path())
            .env(
                "CARGO_TARGET_DIR",
                std::env::temp_dir().join("muslrust-chef-registry-tests-target"),
            )
            .env("DOCKER_CONFIG", fx.path().join(".docker"))
            .env("MUSLRUST_CHEF_CACHE_DIR", fx.path().join("cache"))
            .args(["image", "--platform", "linux/amd64"])
            .args(args);
        run(&mut c)
    };
    let base = format!("{}/bases/runtime:1", reg.addr);
    image(&["--push", &base]).ok();
    let app = format!("{}/apps/dockerapp:1", reg.addr);
    let r = image(&["--base", &base, "--push", &app]);
    r.ok();
    let pushed = r.stdout.trim().to_string();
    assert!(pushed.starts_with(&format!("{app}@sha256:")), "{pushed}");
    for reference in [base.as_str(), app.as_str()] {
        let out = Command::new("docker")
            .args(["pull", reference])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker pull {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--network",
            "none",
            &app,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("hello from the pushed image"), "{stdout}");
    assert!(stdout.contains("65532"), "runs as nonroot: {stdout}");
    // The digest docker resolved is the one we printed.
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &app,
        ])
        .output()
        .unwrap();
    let repo_digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        repo_digest.rsplit('@').next(),
        pushed.rsplit('@').next(),
        "docker resolved the digest we pushed"
    );
    let _ = Command::new("docker")
        .args(["rmi", "-f", &app, &base])
        .output();
}
