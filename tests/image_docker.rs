//! End-to-end image tests with the real toolchain and real consumers: a
//! static fixture built by `muslrust-chef image`, loaded into and run by a
//! real Docker daemon (started here if none runs), a two-platform layout
//! whose arm64 binary runs under qemu, and digests compared across two
//! clean builds. The slow group: they compile.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, chef, have, require, require_musl_toolchains, run};

/// Prints its uid (from /proc, no libc crate needed) and how many
/// certificates the bundle named by SSL_CERT_FILE holds.
const MAIN_RS: &str = r#"
fn main() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_string();
    let path = std::env::var("SSL_CERT_FILE").expect("SSL_CERT_FILE is set");
    let pem = std::fs::read_to_string(&path).expect("the CA bundle is readable");
    let certs = pem.matches("-----BEGIN CERTIFICATE-----").count();
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    println!("uid={uid} certs={certs} cwd={cwd}");
}
"#;

fn fixture() -> Fixture {
    Fixture::bin_crate("certcount", MAIN_RS)
}

/// The Docker daemon answers; starts `dockerd` in the background (log in
/// the temp dir) when it is installed but not running.
fn ensure_docker() -> bool {
    let up = || {
        Command::new("docker")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !require("docker CLI", have("docker"), "apt-get install docker.io") {
        return false;
    }
    if up() {
        return true;
    }
    if have("dockerd") {
        let log = std::env::temp_dir().join("muslrust-chef-dockerd.log");
        let log = std::fs::File::create(&log).expect("dockerd log file");
        let _ = Command::new("dockerd")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if up() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    require(
        "a running Docker daemon",
        false,
        "apt-get install docker.io and start dockerd",
    )
}

fn parse_output(s: &str) -> (String, usize, String) {
    let mut uid = String::new();
    let mut certs = 0;
    let mut cwd = String::new();
    for part in s.split_whitespace() {
        if let Some(v) = part.strip_prefix("uid=") {
            uid = v.into();
        } else if let Some(v) = part.strip_prefix("certs=") {
            certs = v.parse().unwrap();
        } else if let Some(v) = part.strip_prefix("cwd=") {
            cwd = v.into();
        }
    }
    (uid, certs, cwd)
}

fn image(fx: &Fixture, args: &[&str]) -> common::Run {
    let mut cmd = chef();
    cmd.current_dir(fx.path())
        .args(["image", "--release"])
        .args(args);
    let r = run(&mut cmd);
    r.ok();
    r
}

fn docker_run(tag: &str) -> String {
    let r = run(Command::new("docker").args([
        "run",
        "--rm",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--network",
        "none",
        tag,
    ]));
    r.ok();
    r.stdout
}

#[test]
fn docker_loads_and_runs_the_image_as_nonroot_with_its_ca_bundle() {
    if !require_musl_toolchains() || !ensure_docker() {
        return;
    }
    let fx = fixture();
    let tar = fx.path().join("image.tar");
    let r = image(
        &fx,
        &[
            "--platform",
            "linux/amd64",
            "--output",
            &format!("docker-archive:{}", tar.display()),
            "-t",
            "muslrust-chef-test/certcount:archive",
        ],
    );
    assert!(r.stdout.starts_with("sha256:"), "{}", r.stdout);
    run(Command::new("docker").args(["load", "-i"]).arg(&tar)).ok();
    let (uid, certs, cwd) = parse_output(&docker_run("muslrust-chef-test/certcount:archive"));
    assert_eq!(uid, "65532");
    assert!(certs > 100, "{certs} certificates");
    assert_eq!(cwd, "/home/nonroot");

    // --load talks to the daemon itself.
    let r = image(
        &fx,
        &[
            "--platform",
            "linux/amd64",
            "--load",
            "-t",
            "muslrust-chef-test/certcount:loaded",
        ],
    );
    assert!(
        r.stdout.contains("muslrust-chef-test/certcount:loaded"),
        "{}",
        r.stdout
    );
    let (uid, certs, _) = parse_output(&docker_run("muslrust-chef-test/certcount:loaded"));
    assert_eq!((uid.as_str(), certs > 100), ("65532", true));
    // The daemon's image id is our config digest.
    let id = run(Command::new("docker").args([
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        "muslrust-chef-test/certcount:loaded",
    ]));
    id.ok();
    assert_eq!(
        id.stdout.trim(),
        r.stdout.split_whitespace().next().unwrap()
    );
    let _ = run(Command::new("docker").args([
        "rmi",
        "muslrust-chef-test/certcount:archive",
        "muslrust-chef-test/certcount:loaded",
    ]));
}

#[test]
fn two_platform_layout_and_the_arm64_binary_runs_under_qemu() {
    if !require_musl_toolchains()
        || !require("skopeo", have("skopeo"), "apt-get install skopeo")
        || !require("umoci", have("umoci"), "apt-get install umoci")
    {
        return;
    }
    let fx = fixture();
    let dir = fx.path().join("layout");
    let r = image(
        &fx,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--output",
            &format!("oci:{}", dir.display()),
        ],
    );
    let index_digest = r.stdout.split_whitespace().next().unwrap().to_string();
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!("oci:{}:certcount:latest", dir.display()),
    ]));
    raw.ok();
    let v: serde_json::Value = serde_json::from_str(&raw.stdout).unwrap();
    let archs: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    let idx = std::fs::read_to_string(dir.join("index.json")).unwrap();
    assert!(idx.contains(&index_digest), "{idx}");
    // umoci unpacks single manifests: pick arm64 out with skopeo first.
    let arm = fx.path().join("arm");
    run(Command::new("skopeo").args([
        "--override-arch",
        "arm64",
        "copy",
        &format!("oci:{}:certcount:latest", dir.display()),
        &format!("oci:{}:arm", arm.display()),
    ]))
    .ok();
    let bundle = fx.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:arm", arm.display()))
        .arg(&bundle))
    .ok();
    let rootfs = bundle.join("rootfs");
    let exe = rootfs.join("usr/local/bin/certcount");
    let r = run(Command::new("qemu-aarch64-static").arg(&exe).env(
        "SSL_CERT_FILE",
        rootfs.join("etc/ssl/certs/ca-certificates.crt"),
    ));
    r.ok();
    let (_, certs, _) = parse_output(&r.stdout);
    assert!(certs > 100, "{}", r.stdout);
    let ins = run(chef().args(["inspect", &format!("oci:{}", dir.display())]));
    ins.ok();
    assert!(
        ins.stdout.contains("linux/arm64/v8") && ins.stdout.contains("static: yes"),
        "{}",
        ins.stdout
    );
}

/// Two clean builds (separate target directories) of the same project give
/// the same manifest digests.
#[test]
fn two_clean_builds_give_the_same_digests() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = fixture();
    let digest = |n: &str| {
        let target = fx.path().join(format!("target-{n}"));
        let out = fx.path().join(format!("oci-{n}"));
        let r = image(
            &fx,
            &[
                "--platform",
                "linux/amd64,linux/arm64",
                "--target-dir",
                target.to_str().unwrap(),
                "--output",
                &format!("oci:{}", out.display()),
            ],
        );
        assert!(
            Path::new(&out)
                .join("blobs")
                .read_dir()
                .unwrap()
                .next()
                .is_some()
        );
        r.stdout.split_whitespace().next().unwrap().to_string()
    };
    assert_eq!(digest("a"), digest("b"));
}
