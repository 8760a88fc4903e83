//! The Docker path with a real Docker engine (slow group): the builder image
//! from `docker/muslrust-chef/Dockerfile`, `init` on a fresh project and on
//! `examples/allowlist`, the generated Dockerfile built on top of the
//! builder image, the container run as 65532, the extracted binary
//! inspected, and the cook layer proven reused (BuildKit's `CACHED`) after a
//! source edit and after a version bump.
//!
//! Nothing is pulled from a registry: `scripts/docker-test-base.sh` builds a
//! muslrust-compatible base from Debian packages (debootstrap), and the
//! runtime stage starts from muslrust-chef's own base image (`image
//! --load`); both are cached in the daemon under fixed tags.
//!
//! Run: `cargo test --test docker_path -- --nocapture --test-threads 1`
//! (needs root, dockerd, debootstrap and the network to Debian's mirror and
//! the crate registry).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{Fixture, chef, have, require, run};

const BASE_TAG: &str = "muslrust-chef-test/muslrust:local";
const RUNTIME_TAG: &str = "muslrust-chef-test/chef-base:local";
const BUILDER_TAG: &str = "muslrust-chef-test/builder:local";

/// Docker builds share two cores: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
static BUILDER: OnceLock<Result<(), String>> = OnceLock::new();

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The docker client: `$DOCKER`, else Debian's (its classic `docker build`
/// speaks BuildKit without the buildx plugin), else whatever is on PATH.
fn docker_bin() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER") {
        return d.into();
    }
    if Path::new("/usr/bin/docker").is_file() {
        return "/usr/bin/docker".into();
    }
    "docker".into()
}

fn docker() -> Command {
    let mut c = Command::new(docker_bin());
    c.env("DOCKER_BUILDKIT", "1");
    c
}

fn docker_ok() -> bool {
    docker()
        .arg("info")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Starts dockerd in the background when it is not running (root only).
fn ensure_dockerd() -> bool {
    if docker_ok() {
        return true;
    }
    if !have("dockerd") {
        return false;
    }
    let log = std::env::temp_dir().join("muslrust-chef-dockerd.log");
    let Ok(file) = std::fs::File::create(&log) else {
        return false;
    };
    let spawned = Command::new("dockerd")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn();
    if spawned.is_err() {
        return false;
    }
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if Path::new("/var/run/docker.sock").exists() && docker_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("dockerd did not come up; see {}", log.display());
    false
}

fn require_docker() -> bool {
    require(
        "a Docker engine",
        ensure_dockerd(),
        "apt-get install docker.io (scripts/bootstrap.sh); the test starts dockerd itself when run as root",
    ) && require(
        "debootstrap",
        have("debootstrap") || image_exists(BASE_TAG),
        "apt-get install debootstrap",
    )
}

fn image_exists(tag: &str) -> bool {
    docker()
        .args(["image", "inspect", tag])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs `cmd`, returns (success, stdout+stderr, seconds).
fn timed(cmd: &mut Command) -> (bool, String, f64) {
    let t = Instant::now();
    let o = cmd.output().expect("command starts");
    let secs = t.elapsed().as_secs_f64();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text, secs)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The two local base images and the builder image, built once per run.
fn builder_image() {
    let r = BUILDER.get_or_init(|| {
        let (ok, out, secs) = timed(
            Command::new("bash")
                .arg(repo().join("scripts/docker-test-base.sh"))
                .args(["base", BASE_TAG])
                .env("DOCKER", docker_bin()),
        );
        if !ok {
            return Err(format!(
                "scripts/docker-test-base.sh base failed:\n{}",
                tail(&out, 40)
            ));
        }
        eprintln!("base image {BASE_TAG}: ready in {secs:.1}s");
        runtime_base()?;
        let (ok, out, secs) = timed(
            docker()
                .args(["build", "--network", "host", "--progress", "plain"])
                .args(["-f", "docker/muslrust-chef/Dockerfile"])
                .args(["--build-arg", &format!("MUSLRUST_IMAGE={BASE_TAG}")])
                .args(["--build-arg", "CROSS_ARM64=false"])
                .args(["-t", BUILDER_TAG, "."])
                .current_dir(repo()),
        );
        if !ok {
            return Err(format!(
                "building the builder image failed:\n{}",
                tail(&out, 60)
            ));
        }
        eprintln!("builder image {BUILDER_TAG}: built in {secs:.1}s");
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// The runtime stage's base: muslrust-chef's own built-in base image
/// (root, nobody and nonroot users, CA bundle, /tmp), loaded into the
/// daemon with `image --load`. The image carries a tiny placeholder binary
/// as its app layer; the generated Dockerfile adds its own and replaces the
/// entrypoint.
fn runtime_base() -> Result<(), String> {
    let fx = Fixture::bin_crate("runtime-base", "fn main() {}\n");
    let (ok, out, secs) = timed(
        chef()
            .args(["image", "--release", "--load", "-t", RUNTIME_TAG, "--path"])
            .arg(fx.path()),
    );
    if !ok {
        return Err(format!(
            "muslrust-chef image --load failed:\n{}",
            tail(&out, 40)
        ));
    }
    eprintln!("runtime base {RUNTIME_TAG}: loaded with `muslrust-chef image --load` in {secs:.1}s");
    Ok(())
}

/// A generated-Dockerfile build of `dir` tagged `tag`.
struct Build {
    secs: f64,
    log: String,
}

fn build_app(dir: &Path, tag: &str, no_cache: bool) -> Build {
    let mut c = docker();
    c.args(["build", "--network", "host", "--progress", "plain"])
        .args(["--build-arg", &format!("MUSLRUST_CHEF_IMAGE={BUILDER_TAG}")])
        .args(["--build-arg", &format!("RUNTIME_IMAGE={RUNTIME_TAG}")])
        .args(["-t", tag])
        .arg(dir);
    if no_cache {
        c.arg("--no-cache");
    }
    let (ok, log, secs) = timed(&mut c);
    assert!(
        ok,
        "docker build of {} failed:\n{}",
        dir.display(),
        tail(&log, 80)
    );
    Build { secs, log }
}

/// Whether BuildKit reported the `muslrust-chef cook` step as CACHED.
fn cook_cached(log: &str) -> bool {
    // `#12 [cook 4/4] RUN ... muslrust-chef cook ...` then `#12 CACHED`.
    let ids: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("muslrust-chef cook") && l.contains("] RUN"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        !ids.is_empty(),
        "no cook step in the build log:\n{}",
        tail(log, 60)
    );
    ids.iter()
        .any(|id| log.lines().any(|l| l.trim() == format!("{id} CACHED")))
}

/// Copies `path` out of image `tag` into `dest`.
fn extract(tag: &str, path: &str, dest: &Path) {
    let (ok, out, _) = timed(docker().args(["create", tag]));
    assert!(ok, "docker create {tag}: {out}");
    let id = out.trim().lines().last().unwrap().to_string();
    let (ok, cp, _) = timed(docker().args(["cp", &format!("{id}:{path}")]).arg(dest));
    let _ = docker().args(["rm", &id]).output();
    assert!(ok, "docker cp: {cp}");
}

fn inspect_json(bin: &Path) -> serde_json::Value {
    let r = run(chef().args(["inspect", "--json"]).arg(bin));
    r.ok();
    serde_json::from_str(&r.stdout).expect("inspect --json prints JSON")
}

fn expected_allocator() -> &'static str {
    match muslrust_chef::toolchain::LibcChoice::default().allocator {
        muslrust_chef::toolchain::Allocator::Mimalloc => "mimalloc",
        muslrust_chef::toolchain::Allocator::Musl => "musl",
    }
}

fn check_binary(tag: &str, bin: &str, dir: &Path) {
    let dest = dir.join(format!("extracted-{bin}"));
    extract(tag, &format!("/usr/local/bin/{bin}"), &dest);
    let report = inspect_json(&dest);
    assert_eq!(report["is_static"], true, "{report:#}");
    assert_eq!(report["stripped"], true, "{report:#}");
    let alloc = report["allocator"].as_str().unwrap_or("");
    if alloc != "unknown" {
        assert_eq!(alloc, expected_allocator(), "{report:#}");
    }
    eprintln!("inspect {bin}: static, allocator {alloc}");
    let user = run(docker().args(["image", "inspect", "--format", "{{.Config.User}}", tag]));
    user.ok();
    assert_eq!(user.stdout.trim(), "65532:65532");
}

const HELLO_MAIN: &str = r#"fn main() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("Uid: ?");
    println!("hello from {} {}, {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), uid.split_whitespace().nth(1).unwrap_or("?"));
    println!("MESSAGE-1");
}
"#;

#[test]
fn fresh_project_builds_runs_as_nonroot_and_reuses_the_cook_layer() {
    if !require_docker() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    builder_image();
    let fx = Fixture::bin_crate("fresh", HELLO_MAIN);
    // A dependency, so that cooking has something to cache.
    fx.write(
        "Cargo.toml",
        "[package]\nname = \"fresh\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"1\"\n\n[workspace]\n",
    );
    let r = run(Command::new("cargo")
        .args(["generate-lockfile"])
        .current_dir(fx.path()));
    r.ok();
    run(chef()
        .args(["init", "--builder-image", BUILDER_TAG, "--path"])
        .arg(fx.path()))
    .ok();
    let tag = "muslrust-chef-test/fresh:test";
    let first = build_app(fx.path(), tag, true);
    let out = run(docker().args(["run", "--rm", tag]));
    out.ok();
    assert!(
        out.stdout.contains("hello from fresh 0.1.0, 65532"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("MESSAGE-1"), "{}", out.stdout);
    check_binary(tag, "fresh", fx.path());

    // Only a .rs file changes: cook is reused and the new code runs.
    fx.write("src/main.rs", &HELLO_MAIN.replace("MESSAGE-1", "MESSAGE-2"));
    let second = build_app(fx.path(), tag, false);
    assert!(
        cook_cached(&second.log),
        "cook not reused:\n{}",
        tail(&second.log, 60)
    );
    let out = run(docker().args(["run", "--rm", tag]));
    assert!(
        out.stdout.contains("MESSAGE-2"),
        "the rebuild must run the new code: {}",
        out.stdout
    );

    // Only the version changes: cook is still reused.
    fx.write(
        "Cargo.toml",
        &std::fs::read_to_string(fx.path().join("Cargo.toml"))
            .unwrap()
            .replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    );
    let third = build_app(fx.path(), tag, false);
    assert!(
        cook_cached(&third.log),
        "cook not reused after a version bump:\n{}",
        tail(&third.log, 60)
    );
    let out = run(docker().args(["run", "--rm", tag]));
    assert!(
        out.stdout.contains("hello from fresh 0.2.0"),
        "{}",
        out.stdout
    );
    eprintln!(
        "fresh project: first build {:.1}s, rebuild after .rs edit {:.1}s (ratio {:.2}), after version bump {:.1}s",
        first.secs,
        second.secs,
        second.secs / first.secs,
        third.secs
    );
    let _ = docker().args(["rmi", tag]).output();
}

/// A copy of examples/allowlist without its target/ directory.
fn allowlist_copy() -> Fixture {
    let src = repo().join("examples/allowlist");
    let fx = Fixture::new(&[]);
    copy_tree(&src, fx.path());
    fx
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if name == "target" || name == "Dockerfile" || name == ".dockerignore" {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(&name));
        } else {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn allowlist_example_image_serves_and_rebuilds_from_the_cook_layer() {
    if !require_docker() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !repo().join("examples/allowlist/Cargo.toml").is_file() {
        panic!("examples/allowlist is missing");
    }
    builder_image();
    let fx = allowlist_copy();
    run(chef()
        .args(["init", "--builder-image", BUILDER_TAG, "--path"])
        .arg(fx.path()))
    .ok();
    let tag = "muslrust-chef-test/allowlist:test";
    let first = build_app(fx.path(), tag, true);
    check_binary(tag, "allowlist", fx.path());

    let port = free_port();
    let name = format!("muslrust-chef-allowlist-{port}");
    let r = run(docker()
        .args(["run", "-d", "--rm", "--name", &name, "--network", "host"])
        .args(["-e", &format!("PORT={port}"), "-e", "BIND=127.0.0.1"])
        .arg(tag));
    r.ok();
    let mut reply = None;
    for _ in 0..50 {
        reply = http_get(port, "/healthz");
        if reply
            .as_deref()
            .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let top = run(docker().args(["top", &name, "-o", "uid,cmd"]));
    let _ = docker().args(["rm", "-f", &name]).output();
    let reply = reply.unwrap_or_default();
    assert!(reply.starts_with("HTTP/1.1 200"), "healthz: {reply:?}");
    assert!(
        top.stdout
            .lines()
            .skip(1)
            .all(|l| l.trim_start().starts_with("65532")),
        "the service runs as 65532: {}",
        top.stdout
    );

    // Cache proof: edit one .rs file, rebuild.
    let main_rs = fx.path().join("src/main.rs");
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, format!("{text}\n// edited by the cache test\n")).unwrap();
    let second = build_app(fx.path(), tag, false);
    assert!(
        cook_cached(&second.log),
        "cook not reused:\n{}",
        tail(&second.log, 60)
    );
    let ratio = second.secs / first.secs;
    eprintln!(
        "allowlist: first build {:.1}s, rebuild after a .rs edit {:.1}s, ratio {:.2}",
        first.secs, second.secs, ratio
    );
    assert!(
        ratio < 0.7,
        "the rebuild should take a fraction of the first build (ratio {ratio:.2})"
    );

    // Version bump only: the cook layer is still reused.
    let manifest = fx.path().join("Cargo.toml");
    let m = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        m.replacen("version = \"0.1.0\"", "version = \"0.1.1\"", 1),
    )
    .unwrap();
    let third = build_app(fx.path(), tag, false);
    assert!(
        cook_cached(&third.log),
        "cook not reused after a version bump:\n{}",
        tail(&third.log, 60)
    );
    eprintln!("allowlist: rebuild after a version bump {:.1}s", third.secs);
    let _ = docker().args(["rmi", tag]).output();
}
