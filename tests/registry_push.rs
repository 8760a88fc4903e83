//! `muslrust-chef image --push` and `--base REF` end to end: the real
//! binary builds a tiny project and pushes it to a real `docker-registry`
//! (plain HTTP, or TLS + htpasswd with a CA made at test time); skopeo
//! checks the result independently; credentials come from the
//! environment, a Docker config, a credential helper and `login`; a fault
//! proxy drops connections and injects 503s.

mod common;
#[path = "registry_support/mod.rs"]
mod registry_support;

use std::path::Path;
use std::process::Command;

use common::{Fixture, Run, chef, run};
use registry_support::*;
use serde_json::Value;

const MAIN: &str = "fn main() { println!(\"hello from the pushed image\"); }\n";

/// Builds share one target directory so only the first test compiles.
fn target_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("muslrust-chef-registry-tests-target")
}

fn ready() -> bool {
    require_registry()
        && common::require("skopeo", common::have("skopeo"), "apt-get install skopeo")
        && common::require_musl_toolchains()
}

fn image_cmd(project: &Path) -> Command {
    let mut c = chef();
    c.current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("DOCKER_CONFIG", project.join(".no-docker-config"))
        .env_remove("MUSLRUST_CHEF_REGISTRY_USERNAME")
        .env_remove("MUSLRUST_CHEF_REGISTRY_PASSWORD")
        .env_remove("MUSLRUST_CHEF_REPO")
        .arg("image");
    c
}

fn report(r: &Run) -> Value {
    let line = r.stdout.lines().last().unwrap_or("");
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr))
}

fn skopeo_raw(reference: &str, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["inspect", "--raw"];
    args.extend_from_slice(extra);
    let r = format!("docker://{reference}");
    args.push(&r);
    skopeo(&args)
}

fn digest_of(bytes: &str) -> String {
    muslrust_chef::image::sha256_digest(bytes.as_bytes())
}

#[test]
fn push_twice_then_change_with_skopeo_checks() {
    if !ready() {
        return;
    }
    let reg = Registry::plain();
    let fx = Fixture::bin_crate("pushme", MAIN);
    let refs_file = fx.path().join("refs.txt");
    let target = format!("{}/team/pushme:v1", reg.addr);
    let push = |extra: &[&str]| {
        let mut c = image_cmd(fx.path());
        c.args([
            "--platform",
            "linux/amd64,linux/arm64",
            "--push",
            &target,
            "--tag",
            "v1.0",
        ])
        .args(["--message-format", "json", "--image-refs"])
        .arg(&refs_file)
        .args(extra);
        let r = run(&mut c);
        r.ok();
        r
    };
    let first = push(&[]);
    let rep1 = report(&first);
    let digest = rep1["digest"].as_str().unwrap().to_string();
    let refs: Vec<String> = rep1["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        refs,
        [
            format!("{target}@{digest}"),
            format!("{}/team/pushme:v1.0@{digest}", reg.addr)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&refs_file)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        refs
    );
    assert!(rep1["blobs_pushed"].as_u64().unwrap() >= 5, "{rep1}");
    assert!(
        first.stderr.contains("blobs pushed") && first.stderr.contains("sent in"),
        "one summary line on a non-terminal stderr: {}",
        first.stderr
    );

    // skopeo reads the same index, both platforms, and copies it all.
    let (ok, raw, err) = skopeo_raw(&target, &["--tls-verify=false"]);
    assert!(ok, "{err}");
    assert_eq!(digest_of(&raw), digest);
    let index: Value = serde_json::from_str(&raw).unwrap();
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    let copy = tempfile::tempdir().unwrap();
    let (ok, _, err) = skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{target}"),
        &format!("oci:{}:x", copy.path().display()),
    ]);
    assert!(ok, "skopeo copy: {err}");
    // Local OCI layout of the same build: same digest.
    let layout = fx.path().join("layout");
    let mut c = image_cmd(fx.path());
    c.args(["--platform", "linux/amd64,linux/arm64", "--output"])
        .arg(format!("oci:{}", layout.display()));
    run(&mut c).ok();
    let local_index: Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    let local_top = local_index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(local_top, digest, "pushed digest equals the local build's");

    // Second push: zero blob bytes, by our report and by the registry's log.
    let mark = reg.log_len();
    let second = push(&[]);
    let rep2 = report(&second);
    assert_eq!(rep2["bytes_sent"], 0, "{rep2}");
    assert_eq!(rep2["blobs_pushed"], 0, "{rep2}");
    let uploads: Vec<String> = reg
        .requests_since(mark)
        .into_iter()
        .filter(|l| l.contains("/blobs/uploads/"))
        .collect();
    assert!(
        uploads.is_empty(),
        "registry saw uploads on the second push: {uploads:?}"
    );

    // A source change: only the app layers and configs go up.
    fx.write("src/main.rs", "fn main() { println!(\"changed\"); }\n");
    let third = push(&[]);
    let rep3 = report(&third);
    let base_layer = index["manifests"][0]["digest"].as_str().unwrap();
    let _ = base_layer;
    let pushed: Vec<&Value> = rep3["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["action"] == "pushed")
        .collect();
    assert_eq!(pushed.len(), 4, "2 app layers + 2 configs: {rep3}");
    assert!(
        rep3["blobs_skipped"].as_u64().unwrap() >= 1,
        "the base layer is skipped: {rep3}"
    );
    println!(
        "measured: first push {} bytes in {:.3}s; second {} bytes in {:.3}s; after change {} bytes in {:.3}s",
        rep1["bytes_sent"],
        rep1["seconds"].as_f64().unwrap(),
        rep2["bytes_sent"],
        rep2["seconds"].as_f64().unwrap(),
        rep3["bytes_sent"],
        rep3["seconds"].as_f64().unwrap()
    );
}

#[test]
fn base_pulled_from_registry_and_mounted() {
    if !ready() {
        return;
    }
    let reg = Registry::plain();
    let fx = Fixture::bin_crate("stacked", MAIN);
    // A "base" image in the registry (itself built by us).
    let base_ref = format!("{}/bases/static:1", reg.addr);
    let mut c = image_cmd(fx.path());
    c.args([
        "--platform",
        "linux/amd64",
        "--push",
        &base_ref,
        "--message-format",
        "json",
    ]);
    let base_digest = report(run(&mut c).ok())["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, base_raw, err) = skopeo_raw(&base_ref, &["--tls-verify=false"]);
    assert!(ok, "{err}");
    let base_manifest: Value = serde_json::from_str(&base_raw).unwrap();

    let app_ref = format!("{}/apps/stacked:1", reg.addr);
    let mut c = image_cmd(fx.path());
    c.args([
        "--platform",
        "linux/amd64",
        "--base",
        &base_ref,
        "--push",
        &app_ref,
        "--message-format",
        "json",
    ])
    .env("MUSLRUST_CHEF_CACHE_DIR", fx.path().join("cache"));
    let r = run(&mut c);
    r.ok();
    let rep = report(&r);
    assert!(
        rep["blobs_mounted"].as_u64().unwrap() >= 2,
        "base blobs mounted, not uploaded: {rep}"
    );
    let (ok, raw, err) = skopeo_raw(&app_ref, &["--tls-verify=false"]);
    assert!(ok, "{err}");
    let m: Value = serde_json::from_str(&raw).unwrap();
    let layers = m["layers"].as_array().unwrap();
    let base_layers = base_manifest["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        base_layers.len() + 1,
        "app layer stacked on the base"
    );
    for (a, b) in layers.iter().zip(base_layers) {
        assert_eq!(a["digest"], b["digest"]);
        assert_eq!(a["mediaType"], b["mediaType"], "base media types kept");
    }
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        base_digest.as_str()
    );
    // The pulled blobs are cached by digest.
    let cached = std::fs::read_dir(fx.path().join("cache/registry/blobs/sha256"))
        .unwrap()
        .count();
    assert!(cached >= 2, "blobs cached: {cached}");
}

const PASSWORD: &str = "pw-Vx81-super-secret";

#[test]
fn credentials_from_env_config_helper_and_login() {
    if !ready() {
        return;
    }
    let reg = Registry::tls_with_auth("ci-user", PASSWORD);
    let ca = reg.ca.clone().unwrap();
    let fx = Fixture::bin_crate("authapp", MAIN);
    let target = format!("{}/auth/app:1", reg.addr);
    let push = |env: &[(&str, &str)], docker_config: &Path, extra: &[&str]| {
        let mut c = image_cmd(fx.path());
        c.args([
            "--platform",
            "linux/amd64",
            "--push",
            &target,
            "--registry-ca",
        ])
        .arg(&ca)
        .args(extra)
        .env("DOCKER_CONFIG", docker_config);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    };
    let no_cfg = fx.path().join("empty-config");
    let assert_clean = |r: &Run| {
        assert!(
            !r.stdout.contains(PASSWORD)
                && !r.stderr.contains(PASSWORD)
                && !r.stderr.contains("cHctVng4"),
            "a credential leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    };

    // Wrong password from the environment: a 401 naming the source.
    let r = push(
        &[
            ("MUSLRUST_CHEF_REGISTRY_USERNAME", "ci-user"),
            ("MUSLRUST_CHEF_REGISTRY_PASSWORD", "wrong-password-77"),
        ],
        &no_cfg,
        &["--verbose"],
    );
    r.failed();
    assert!(
        r.stderr.contains("401") && r.stderr.contains("MUSLRUST_CHEF_REGISTRY_USERNAME"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-password-77"), "{}", r.stderr);

    // Right password from the environment, verbose: works, nothing leaks.
    let r = push(
        &[
            ("MUSLRUST_CHEF_REGISTRY_USERNAME", "ci-user"),
            ("MUSLRUST_CHEF_REGISTRY_PASSWORD", PASSWORD),
        ],
        &no_cfg,
        &["--verbose"],
    );
    r.ok();
    assert!(
        r.stderr.contains("PUT /v2/auth/app/manifests/1 -> 201"),
        "verbose shows requests: {}",
        r.stderr
    );
    assert_clean(&r);
    assert!(
        r.stdout.trim().starts_with(&format!("{target}@sha256:")),
        "{}",
        r.stdout
    );

    // No credentials at all: 401 that says anonymous and how to log in.
    let r = push(&[], &no_cfg, &[]);
    r.failed();
    assert!(
        r.stderr.contains("anonymous") && r.stderr.contains("login"),
        "{}",
        r.stderr
    );

    // Docker config `auths`.
    let auths_dir = fx.path().join("auths-config");
    std::fs::create_dir_all(&auths_dir).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci-user:{PASSWORD}"));
    std::fs::write(
        auths_dir.join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, reg.addr),
    )
    .unwrap();
    let r = push(&[], &auths_dir, &["--verbose"]);
    r.ok();
    assert_clean(&r);
    assert!(!r.stderr.contains(&auth));
    // ... and a wrong one names the file.
    let bad = base64::engine::general_purpose::STANDARD.encode("ci-user:nope-nope");
    std::fs::write(
        auths_dir.join("config.json"),
        format!(
            r#"{{"auths": {{"https://{}": {{"auth": "{bad}"}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let r = push(&[], &auths_dir, &[]);
    r.failed();
    assert!(
        r.stderr.contains("auths") && r.stderr.contains("config.json") && r.stderr.contains("401"),
        "{}",
        r.stderr
    );

    // credHelpers with a fake docker-credential-test on PATH.
    let helper_dir = fx.path().join("helper");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let script = helper_dir.join("docker-credential-test");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"ci-user\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n  exit 0\nfi\necho 'credentials not found in native keychain'\nexit 1\n",
            reg.addr
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let helper_cfg = fx.path().join("helper-config");
    std::fs::create_dir_all(&helper_cfg).unwrap();
    std::fs::write(
        helper_cfg.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "test"}}}}"#, reg.addr),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap()
    );
    let r = push(&[("PATH", &path)], &helper_cfg, &["--verbose"]);
    r.ok();
    assert_clean(&r);

    // login writes the config (0600) that a later push uses; logout removes it.
    let login_cfg = fx.path().join("login-config");
    let mut c = chef();
    c.args([
        "login",
        &reg.addr,
        "-u",
        "ci-user",
        "--password-stdin",
        "--registry-ca",
    ])
    .arg(&ca)
    .env("DOCKER_CONFIG", &login_cfg)
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out: Run = child.wait_with_output().unwrap().into();
    out.ok();
    assert_clean(&out);
    let r = push(&[], &login_cfg, &[]);
    r.ok();
    let mut c = chef();
    c.args(["logout", &reg.addr])
        .env("DOCKER_CONFIG", &login_cfg);
    run(&mut c).ok();
    push(&[], &login_cfg, &[]).failed();
    // A wrong password is refused by login and nothing is stored.
    let mut c = chef();
    c.args([
        "login",
        &reg.addr,
        "-u",
        "ci-user",
        "-p",
        "bad-login-pw",
        "--registry-ca",
    ])
    .arg(&ca)
    .env("DOCKER_CONFIG", &login_cfg);
    let r = run(&mut c);
    r.failed();
    assert!(!r.stderr.contains("bad-login-pw"));
    let cfg = std::fs::read_to_string(login_cfg.join("config.json")).unwrap();
    assert!(
        !cfg.contains(&base64::engine::general_purpose::STANDARD.encode("ci-user:bad-login-pw"))
    );
}

/// Every blob a tagged manifest (or index) references exists.
fn tag_is_consistent(registry: &str, repo: &str, tag: &str) -> Option<bool> {
    use muslrust_chef::registry::auth::Scopes;
    use muslrust_chef::registry::{Client, Found, Options, Source};
    let client = Client::connect(
        registry,
        Scopes::pull(repo),
        Found {
            credential: None,
            source: Source::Anonymous,
        },
        Options::default(),
    )
    .unwrap();
    client.manifest_digest(repo, tag).unwrap()?;
    let top = client.get_manifest(repo, tag).unwrap();
    let v: Value = serde_json::from_slice(&top.data).unwrap();
    let mut manifests = vec![v.clone()];
    if let Some(ms) = v["manifests"].as_array() {
        manifests = ms
            .iter()
            .map(|m| {
                serde_json::from_slice(
                    &client
                        .get_manifest(repo, m["digest"].as_str().unwrap())
                        .unwrap()
                        .data,
                )
                .unwrap()
            })
            .collect();
    }
    for m in manifests {
        for d in std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()) {
            if !client
                .blob_exists(repo, d["digest"].as_str().unwrap())
                .unwrap()
            {
                return Some(false);
            }
        }
    }
    Some(true)
}

#[test]
fn faults_between_tool_and_registry() {
    if !ready() {
        return;
    }
    let reg = Registry::plain();
    let fx = Fixture::bin_crate("faulty", MAIN);
    std::fs::write(fx.path().join("payload.bin"), noise(1_500_000, 3)).unwrap();
    let push_via = |proxy: &FaultProxy, repo: &str| {
        let mut c = image_cmd(fx.path());
        c.args([
            "--platform",
            "linux/amd64",
            "--include",
            "payload.bin:/data/payload.bin",
        ])
        .args([
            "--push",
            &format!("{}/{repo}:1", proxy.addr),
            "--message-format",
            "json",
        ])
        .env("MUSLRUST_CHEF_REGISTRY_CHUNK_SIZE", "262144");
        run(&mut c)
    };

    // Recoverable faults: the push completes, with the right digests.
    let flaky = FaultProxy::start(
        &reg.addr,
        Faults {
            every_503: 6,
            every_drop_upload: 3,
            max_drops: 2,
            drop_all_uploads: false,
        },
    );
    let r = push_via(&flaky, "faults/ok");
    r.ok();
    let rep = report(&r);
    assert!(
        flaky
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0,
        "a connection was dropped"
    );
    assert!(
        flaky
            .stats
            .injected_503
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0,
        "a 503 was injected"
    );
    assert!(r.stderr.contains("retrying"), "{}", r.stderr);
    let (ok, raw, err) = skopeo_raw(
        &format!("{}/faults/ok:1", reg.addr),
        &["--tls-verify=false"],
    );
    assert!(ok, "{err}");
    assert_eq!(digest_of(&raw), rep["digest"].as_str().unwrap());
    assert_eq!(tag_is_consistent(&reg.addr, "faults/ok", "1"), Some(true));
    let dest = tempfile::tempdir().unwrap();
    let (ok, _, err) = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/faults/ok:1", reg.addr),
        &format!("oci:{}:x", dest.path().display()),
    ]);
    assert!(ok, "skopeo verifies every blob digest while copying: {err}");

    // Unrecoverable: every upload is cut. Clean failure, and no tag.
    let broken = FaultProxy::start(
        &reg.addr,
        Faults {
            drop_all_uploads: true,
            ..Faults::default()
        },
    );
    let r = push_via(&broken, "faults/broken");
    r.failed();
    assert!(
        r.stderr.contains("error:") && r.stderr.contains("gave up"),
        "{}",
        r.stderr
    );
    assert_eq!(
        tag_is_consistent(&reg.addr, "faults/broken", "1"),
        None,
        "no tag after a failed push"
    );
}
