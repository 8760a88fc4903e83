//! The registry client and push/pull against a real `docker-registry`
//! (plain HTTP, and TLS + htpasswd with a CA made at test time), with
//! images assembled around fake binaries so no toolchain is needed.
//! Independent checks with `skopeo`.

mod common;
#[path = "registry_support/mod.rs"]
mod registry_support;

use std::sync::Arc;

use muslrust_chef::Platform;
use muslrust_chef::image::{ImageSet, ImageSpec, assemble};
use muslrust_chef::registry::auth::Scopes;
use muslrust_chef::registry::push::{NoProgress, PushRequest, push};
use muslrust_chef::registry::{Client, Credential, Found, Options, Reference, Source, pull};
use registry_support::*;

fn image(platforms: &[Platform], seed: u64, size: usize) -> ImageSet {
    let bins: Vec<(Platform, Vec<u8>)> = platforms
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, noise(size, seed + i as u64)))
        .collect();
    assemble(&ImageSpec::default(), "app", &bins).unwrap()
}

struct Stderr;
impl muslrust_chef::reporter::Reporter for Stderr {
    fn step(&self, m: &str) {
        eprintln!("step: {m}");
    }
    fn warn(&self, m: &str) {
        eprintln!("warn: {m}");
    }
}

fn anonymous() -> Found {
    Found {
        credential: None,
        source: Source::Anonymous,
    }
}

fn connect(reg: &str, repo: &str, found: Found, opts: Options) -> Client {
    Client::connect(reg, Scopes::push(repo), found, opts).unwrap()
}

fn push_to(
    client: &Client,
    r: &Reference,
    set: &ImageSet,
) -> muslrust_chef::registry::push::PushReport {
    push(
        client,
        &PushRequest {
            target: r,
            images: set,
            tags: vec![r.tag.clone().unwrap_or("latest".into())],
            mount_from: vec![],
            parallel: 3,
        },
        &NoProgress,
    )
    .unwrap()
}

#[test]
fn push_skip_and_pull_back_on_plain_registry() {
    if !require_registry() {
        return;
    }
    let reg = Registry::plain();
    let r = Reference::parse(&format!("{}/team/app:v1", reg.addr)).unwrap();
    let set = image(&[Platform::AMD64, Platform::ARM64], 1, 300_000);
    let client = connect(&reg.addr, &r.repository, anonymous(), Options::default());
    assert!(
        client.base_url().starts_with("http://"),
        "{}",
        client.base_url()
    );

    let first = push_to(&client, &r, &set);
    assert_eq!(first.digest, set.top().digest);
    assert_eq!(
        first.references,
        vec![format!("{}/team/app:v1@{}", reg.addr, set.top().digest)]
    );
    // base layer shared by both platforms: 1 base + 2 app layers + 2 configs.
    assert_eq!(first.blobs_pushed, 5, "{first:#?}");
    let total: u64 = first.blobs.iter().map(|b| b.size).sum();
    assert!(first.bytes_sent >= total, "{} < {total}", first.bytes_sent);
    assert_eq!(first.manifests_put, 4);

    // Second push: nothing uploaded, by our count and by the registry's log.
    let mark = reg.log_len();
    let second = push_to(&client, &r, &set);
    assert_eq!(second.bytes_sent, 0, "{second:#?}");
    assert_eq!(second.blobs_skipped, 5);
    let uploads: Vec<String> = reg
        .requests_since(mark)
        .into_iter()
        .filter(|l| l.contains("/blobs/uploads/"))
        .collect();
    assert!(uploads.is_empty(), "second push uploaded: {uploads:?}");
    println!(
        "measured: first push {} bytes in {:.3}s, second push {} bytes in {:.3}s",
        first.bytes_sent, first.seconds, second.bytes_sent, second.seconds
    );

    // Only the changed app layer (and its config) go up after a change.
    let changed = image(&[Platform::AMD64, Platform::ARM64], 1, 300_000);
    let mut changed_bins = vec![
        (Platform::AMD64, noise(300_000, 99)),
        (Platform::ARM64, noise(300_000, 2)),
    ];
    let changed2 = assemble(&ImageSpec::default(), "app", &changed_bins).unwrap();
    assert_eq!(
        changed.top().digest,
        set.top().digest,
        "assembly is reproducible"
    );
    let third = push_to(&client, &r, &changed2);
    assert_eq!(third.blobs_pushed, 2, "{third:#?}"); // amd64 app layer + amd64 config
    let app_layer = changed2.images[0].layers.last().unwrap();
    assert!(third.bytes_sent < app_layer.size() + 10_000, "{third:#?}");
    changed_bins.clear();

    // Independent check: skopeo sees the index and both platforms.
    if common::require("skopeo", common::have("skopeo"), "apt-get install skopeo") {
        let (ok, out, err) = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/team/app:v1", reg.addr),
        ]);
        assert!(ok, "{err}");
        assert_eq!(
            muslrust_chef::image::sha256_digest(out.as_bytes()),
            changed2.top().digest,
            "skopeo reads back the same index bytes"
        );
        let dest = tempfile::tempdir().unwrap();
        let (ok, _, err) = skopeo(&[
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{}/team/app:v1", reg.addr),
            &format!("oci:{}:x", dest.path().display()),
        ]);
        assert!(ok, "skopeo copy failed: {err}");
    }

    // Pull back: the same manifests, config and layers.
    let pulled = pull::pull_with_cache(
        &client,
        &r,
        &[Platform::AMD64, Platform::ARM64],
        &tempfile::tempdir().unwrap().path().join("cache"),
    )
    .unwrap();
    assert_eq!(pulled.index.as_ref().unwrap().digest, changed2.top().digest);
    for (a, b) in pulled.images.iter().zip(&changed2.images) {
        assert_eq!(a.manifest.digest, b.manifest.digest);
        assert_eq!(a.config.digest, b.config.digest);
        assert_eq!(a.layers, b.layers);
    }
}

#[test]
fn chunked_upload_with_resume_through_faults() {
    if !require_registry() {
        return;
    }
    let reg = Registry::plain();
    let proxy = FaultProxy::start(
        &reg.addr,
        Faults {
            every_503: 7,
            every_drop_upload: 3,
            max_drops: 3,
            drop_all_uploads: false,
        },
    );
    let r = Reference::parse(&format!("{}/faulty/app:v1", proxy.addr)).unwrap();
    let set = image(&[Platform::AMD64], 5, 2_000_000);
    let opts = Options {
        chunk_size: 256 << 10,
        backoff: std::time::Duration::from_millis(20),
        attempts: 8,
        trace: std::env::var_os("CHEF_TRACE").is_some(),
        reporter: Arc::new(Stderr),
        ..Options::default()
    };
    let client = connect(&proxy.addr, &r.repository, anonymous(), opts);
    let report = push_to(&client, &r, &set);
    assert_eq!(report.digest, set.top().digest);
    let injected = proxy
        .stats
        .injected_503
        .load(std::sync::atomic::Ordering::SeqCst);
    let dropped = proxy
        .stats
        .dropped
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        injected > 0 && dropped > 0,
        "faults were injected: 503s {injected}, drops {dropped}"
    );
    // Directly from the registry: everything is there and intact.
    let direct = connect(&reg.addr, "faulty/app", anonymous(), Options::default());
    let pulled = pull::pull_with_cache(
        &direct,
        &Reference::parse(&format!("{}/faulty/app:v1", reg.addr)).unwrap(),
        &[],
        &tempfile::tempdir().unwrap().path().join("c"),
    )
    .unwrap();
    assert_eq!(pulled.images[0].layers, set.images[0].layers);
}

#[test]
fn tls_registry_with_htpasswd() {
    if !require_registry() {
        return;
    }
    let reg = Registry::tls_with_auth("alice", "s3cret-pw");
    let repo = "secure/app";
    let ca = reg.ca.clone().unwrap();
    let with_ca = || Options {
        extra_ca: vec![ca.clone()],
        ..Options::default()
    };
    // Good credentials, trusted CA: https, push works.
    let good = Found {
        credential: Some(Credential::basic("alice", "s3cret-pw")),
        source: Source::Explicit,
    };
    let client = connect(&reg.addr, repo, good, with_ca());
    assert!(client.base_url().starts_with("https://"));
    let r = Reference::parse(&format!("{}/{repo}:v1", reg.addr)).unwrap();
    let set = image(&[Platform::AMD64], 9, 100_000);
    push_to(&client, &r, &set);

    // Wrong password: a 401 naming where the credential came from.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    muslrust_chef::registry::credentials::store(
        &cfg,
        &reg.addr,
        &Credential::basic("alice", "wrong-pw-123"),
    )
    .unwrap();
    let found = muslrust_chef::registry::credentials::lookup_in_config(&cfg, &reg.addr).unwrap();
    let err = Client::connect(&reg.addr, Scopes::push(repo), found, with_ca()).unwrap_err();
    let text = muslrust_chef::error::render(&err);
    assert!(text.contains("401"), "{text}");
    assert!(
        text.contains("auths") && text.contains(&cfg.display().to_string()),
        "{text}"
    );
    assert!(!text.contains("wrong-pw-123"), "{text}");

    // Anonymous: 401 that says so and how to log in.
    let err = Client::connect(&reg.addr, Scopes::push(repo), anonymous(), with_ca()).unwrap_err();
    let text = muslrust_chef::error::render(&err);
    assert!(
        text.contains("anonymous") && text.contains("login"),
        "{text}"
    );

    // Untrusted CA: refused, with a hint about --registry-ca.
    let good = Found {
        credential: Some(Credential::basic("alice", "s3cret-pw")),
        source: Source::Explicit,
    };
    let err = Client::connect(
        &reg.addr,
        Scopes::push(repo),
        good.clone(),
        Options::default(),
    )
    .unwrap_err();
    let text = muslrust_chef::error::render(&err);
    assert!(text.contains("--registry-ca"), "{text}");

    // --insecure-registry: no verification, still TLS.
    let opts = Options {
        insecure: vec![reg.addr.clone()],
        reporter: Arc::new(muslrust_chef::reporter::Silent),
        ..Options::default()
    };
    let c = Client::connect(&reg.addr, Scopes::push(repo), good, opts).unwrap();
    assert!(c.base_url().starts_with("https://"));
    assert!(c.blob_exists(repo, &set.images[0].config.digest).unwrap());
}
