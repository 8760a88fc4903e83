//! Image assembly and the file outputs, fast: a fake compiler writes a
//! tiny static ELF, so no toolchain is needed. Results are checked with
//! independent tools (skopeo, umoci) and by doing things twice.

mod common;
#[path = "common_image.rs"]
mod common_image;

use std::path::Path;
use std::process::Command;

use common::{Fixture, chef, have, require, run};
use common_image::{FakeCompiler, MANIFEST, is_root, request, stub_elf};
use muslrust_chef::image::assemble::{self, BaseChoice, ImageSpec, Metadata};
use muslrust_chef::image::{ImageSet, annotation};
use muslrust_chef::output::{Output, SinkOptions, docker_archive, oci_layout, sink_for};
use muslrust_chef::platform::Platform;
use muslrust_chef::reporter::Silent;

fn fixture() -> Fixture {
    Fixture::new(&[
        ("Cargo.toml", MANIFEST),
        ("src/main.rs", "fn main() {}\n"),
        ("config/app.toml", "answer = 42\n"),
        ("scripts/run.sh", "#!/bin/sh\n"),
    ])
}

fn build(fx: &Fixture, platforms: &[Platform], spec: &ImageSpec, tag: &str) -> ImageSet {
    let out = fx.path().join("target/out");
    let req = request(fx.path(), platforms, &out);
    assemble::build_image(&FakeCompiler::new(tag), &req, spec, &Silent).expect("image builds")
}

fn spec_for(fx: &Fixture) -> ImageSpec {
    let project = muslrust_chef::project::Project::load(fx.path(), None).unwrap();
    ImageSpec {
        metadata: Metadata::from_project(&project, "svc"),
        ..ImageSpec::default()
    }
}

fn write_oci(set: &ImageSet, dir: &Path, tags: &[&str]) {
    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    let sink = sink_for(&Output::OciLayout(dir.into()), SinkOptions::default()).unwrap();
    sink.write(set, &tags, &Silent).expect("layout written");
}

fn skopeo(args: &[&str]) -> serde_json::Value {
    let r = run(Command::new("skopeo").args(args));
    r.ok();
    serde_json::from_str(&r.stdout).expect("skopeo prints JSON")
}

fn need_skopeo_umoci() -> bool {
    require("skopeo", have("skopeo"), "apt-get install skopeo")
        && require("umoci", have("umoci"), "apt-get install umoci")
}

#[test]
fn two_platform_layout_has_an_index_skopeo_reads() {
    if !need_skopeo_umoci() {
        return;
    }
    let fx = fixture();
    let set = build(
        &fx,
        &[Platform::AMD64, Platform::ARM64],
        &spec_for(&fx),
        "a",
    );
    let dir = fx.path().join("img");
    write_oci(&set, &dir, &["svc:1.2.3"]);
    let reference = format!("oci:{}:svc:1.2.3", dir.display());
    let raw = skopeo(&["inspect", "--raw", &reference]);
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let ms = raw["manifests"].as_array().unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0]["platform"]["architecture"], "amd64");
    assert_eq!(ms[0]["platform"]["os"], "linux");
    assert_eq!(ms[1]["platform"]["architecture"], "arm64");
    assert_eq!(ms[1]["platform"]["variant"], "v8");
    for (arch, idx) in [("amd64", 0), ("arm64", 1)] {
        let v = skopeo(&[
            "--override-arch",
            arch,
            "--override-os",
            "linux",
            "inspect",
            "--config",
            &reference,
        ]);
        assert_eq!(v["architecture"], arch);
        let c = &v["config"];
        assert_eq!(c["User"], "65532:65532");
        assert_eq!(c["Entrypoint"][0], "/usr/local/bin/svc");
        assert_eq!(c["WorkingDir"], "/home/nonroot");
        let env: Vec<&str> = c["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(
            env.iter().any(|e| e.starts_with("PATH=/usr/local/bin")),
            "{env:?}"
        );
        assert!(
            env.contains(&"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"),
            "{env:?}"
        );
        assert_eq!(c["Labels"][annotation::VERSION], "1.2.3");
        assert_eq!(c["Labels"][annotation::LICENSES], "MIT OR Apache-2.0");
        assert_eq!(c["Labels"][annotation::SOURCE], "https://example.com/svc");
        assert_eq!(c["Labels"][annotation::DESCRIPTION], "A test service");
        assert_eq!(c["Labels"][annotation::TITLE], "svc");
        assert_eq!(v["created"], "1970-01-01T00:00:00Z");
        // The manifest behind each index entry is the one we built.
        assert_eq!(ms[idx]["digest"], set.images[idx].manifest.digest.as_str());
    }
    // Our own inspect reads it back, both platforms.
    let r = run(chef().args(["inspect", &format!("oci:{}", dir.display())]));
    r.ok();
    assert!(
        r.stdout.contains("linux/amd64") && r.stdout.contains("linux/arm64/v8"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("65532:65532"), "{}", r.stdout);
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);
}

#[test]
fn umoci_unpacks_expected_files_modes_and_owners() {
    if !need_skopeo_umoci() {
        return;
    }
    let fx = fixture();
    let mut spec = spec_for(&fx);
    let root = fx.path().canonicalize().unwrap();
    std::fs::set_permissions(
        fx.path().join("scripts/run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    spec.includes = assemble::resolve_include(
        &root,
        &format!("{}/config/app.toml:/etc/svc/app.toml", root.display()),
    )
    .unwrap();
    spec.includes.extend(
        assemble::resolve_include(&root, &format!("{}/scripts:/opt/scripts", root.display()))
            .unwrap(),
    );
    let set = build(&fx, &[Platform::AMD64], &spec, "b");
    let dir = fx.path().join("img");
    write_oci(&set, &dir, &["svc:latest"]);
    let bundle = fx.path().join("bundle");
    let mut cmd = Command::new("umoci");
    cmd.arg("unpack");
    if !is_root() {
        cmd.arg("--rootless");
    }
    cmd.arg("--image")
        .arg(format!("{}:svc:latest", dir.display()))
        .arg(&bundle);
    run(&mut cmd).ok();
    let rootfs = bundle.join("rootfs");
    use std::os::unix::fs::MetadataExt;
    let meta =
        |p: &str| std::fs::symlink_metadata(rootfs.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let expect = [
        ("usr/local/bin/svc", 0o100755, 0),
        ("etc/passwd", 0o100644, 0),
        ("etc/group", 0o100644, 0),
        ("etc/nsswitch.conf", 0o100644, 0),
        ("etc/os-release", 0o100644, 0),
        ("etc/ssl/certs/ca-certificates.crt", 0o100644, 0),
        ("etc/svc/app.toml", 0o100644, 0),
        ("opt/scripts/run.sh", 0o100755, 0),
        ("tmp", 0o41777, 0),
        ("home/nonroot", 0o40700, 65532),
        ("root", 0o40700, 0),
    ];
    for (p, mode, uid) in expect {
        let m = meta(p);
        assert_eq!(m.mode(), mode, "{p}: mode {:o}", m.mode());
        if is_root() {
            assert_eq!(m.uid(), uid, "{p}: owner");
            assert_eq!(m.gid(), uid, "{p}: group");
        }
    }
    assert_eq!(
        std::fs::read(rootfs.join("usr/local/bin/svc")).unwrap(),
        stub_elf(Platform::AMD64, b"b")
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains("nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"),
        "{passwd}"
    );
    assert!(passwd.contains("nobody:x:65534:65534:"), "{passwd}");
    assert!(
        passwd.lines().all(|l| l.ends_with(":/sbin/nologin")),
        "{passwd}"
    );
    let ns = std::fs::read_to_string(rootfs.join("etc/nsswitch.conf")).unwrap();
    assert!(ns.contains("hosts: files dns"), "{ns}");
    let ca = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(ca.matches("-----BEGIN CERTIFICATE-----").count() > 100);
    // Every timestamp is the fixed epoch (SOURCE_DATE_EPOCH unset: 0).
    assert_eq!(meta("etc/passwd").mtime(), 0);
    // The stub really is an executable the image can run.
    let r = run(&mut Command::new(rootfs.join("usr/local/bin/svc")));
    r.ok();
}

#[test]
fn skopeo_copies_between_our_formats() {
    if !need_skopeo_umoci() {
        return;
    }
    let fx = fixture();
    let set = build(&fx, &[Platform::AMD64], &spec_for(&fx), "c");
    let dir = fx.path().join("img");
    write_oci(&set, &dir, &["svc:latest"]);
    let tar = fx.path().join("img.tar");
    let archive = sink_for(&Output::DockerArchive(tar.clone()), SinkOptions::default()).unwrap();
    let lines = archive
        .write(&set, &["svc:latest".into()], &Silent)
        .unwrap();
    assert!(
        lines[0].starts_with(&set.images[0].config.digest),
        "{lines:?}"
    );
    // Ours -> skopeo -> theirs, both ways; configs stay identical.
    let from_archive = fx.path().join("from-archive");
    run(Command::new("skopeo").args([
        "copy",
        &format!("docker-archive:{}", tar.display()),
        &format!("oci:{}:copy", from_archive.display()),
    ]))
    .ok();
    let to_archive = fx.path().join("to-archive.tar");
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci:{}:svc:latest", dir.display()),
        &format!("docker-archive:{}:svc:copy", to_archive.display()),
    ]))
    .ok();
    // skopeo re-serializes configs when it converts manifest formats, so
    // compare what they say: the layers' diff ids and how the image runs.
    let facts = |s: &ImageSet| {
        let c = s.images[0].parsed_config().unwrap();
        let r = c.config().clone().unwrap();
        (
            c.rootfs().diff_ids().clone(),
            r.user().clone(),
            r.entrypoint().clone(),
        )
    };
    let copied = oci_layout::read_layout(&from_archive, Some("copy")).unwrap();
    assert_eq!(facts(&copied.images), facts(&set));
    let (back, tags) = docker_archive::read_archive(&to_archive).unwrap();
    assert_eq!(facts(&back), facts(&set));
    assert_eq!(tags, vec!["docker.io/library/svc:copy".to_string()]);
    let ours = docker_archive::read_archive(&tar).unwrap().0;
    assert_eq!(ours.images[0].layers.len(), 2);
    let r = run(chef().args(["inspect", &format!("docker-archive:{}", tar.display())]));
    r.ok();
    assert!(r.stdout.contains("static: yes"), "{}", r.stdout);
}

#[test]
fn two_independent_runs_give_the_same_digests() {
    // Two fixture copies, two output dirs, two processes' worth of state.
    let (a, b) = (fixture(), fixture());
    let sa = build(
        &a,
        &[Platform::AMD64, Platform::ARM64],
        &spec_for(&a),
        "same",
    );
    let sb = build(
        &b,
        &[Platform::AMD64, Platform::ARM64],
        &spec_for(&b),
        "same",
    );
    assert_eq!(sa.top().digest, sb.top().digest);
    for (x, y) in sa.images.iter().zip(&sb.images) {
        assert_eq!(x.manifest.digest, y.manifest.digest);
    }
    let (da, db) = (a.path().join("img"), b.path().join("img"));
    write_oci(&sa, &da, &["svc:latest"]);
    write_oci(&sb, &db, &["svc:latest"]);
    for f in ["index.json", "oci-layout"] {
        assert_eq!(
            std::fs::read(da.join(f)).unwrap(),
            std::fs::read(db.join(f)).unwrap(),
            "{f}"
        );
    }
    // A different binary changes the app layer but not the base layer.
    let sc = build(&a, &[Platform::AMD64], &spec_for(&a), "other");
    assert_ne!(sc.images[0].manifest.digest, sa.images[0].manifest.digest);
    assert_eq!(sc.images[0].layers[0].digest, sa.images[0].layers[0].digest);
    // SOURCE_DATE_EPOCH moves every timestamp, hence the digests.
    let mut later = spec_for(&a);
    later.epoch = 1_700_000_000;
    let sd = build(&a, &[Platform::AMD64], &later, "same");
    assert_ne!(sd.images[0].manifest.digest, sa.images[0].manifest.digest);
    let cfg = sd.images[0].parsed_config().unwrap();
    assert_eq!(cfg.created().as_deref(), Some("2023-11-14T22:13:20Z"));
}

#[test]
fn base_from_an_oci_layout_keeps_its_layers_and_names_it() {
    let fx = fixture();
    let base_set = build(&fx, &[Platform::AMD64], &spec_for(&fx), "base");
    let base_dir = fx.path().join("base");
    write_oci(&base_set, &base_dir, &["base:1"]);
    let loaded = oci_layout::read_layout(&base_dir, Some("base:1")).unwrap();
    assert_eq!(loaded.ref_name.as_deref(), Some("base:1"));
    let mut spec = spec_for(&fx);
    spec.base = BaseChoice::Image {
        name: "base:1".into(),
        images: loaded.images.clone(),
    };
    let set = build(&fx, &[Platform::AMD64], &spec, "app");
    let img = &set.images[0];
    assert_eq!(img.layers.len(), 3);
    assert_eq!(img.layers[..2], base_set.images[0].layers[..]);
    let m = img.parsed_manifest().unwrap();
    let ann = m.annotations().clone().unwrap();
    assert_eq!(ann[annotation::BASE_NAME], "base:1");
    assert_eq!(
        ann[annotation::BASE_DIGEST],
        base_set.images[0].manifest.digest
    );
    assert_eq!(img.parsed_config().unwrap().rootfs().diff_ids().len(), 3);
    // No arm64 in that base: refused before anything is built.
    let out = fx.path().join("target/out2");
    let req = request(fx.path(), &[Platform::ARM64], &out);
    let err = assemble::build_image(&FakeCompiler::new("x"), &req, &spec, &Silent).unwrap_err();
    assert!(
        err.message().contains("has no linux/arm64"),
        "{}",
        err.message()
    );
    assert!(err.hint_text().unwrap().contains("--platform linux/amd64"));
    assert!(!out.exists(), "nothing built");
}

#[test]
fn a_dynamic_binary_is_refused() {
    let fx = fixture();
    let out = fx.path().join("target/out");
    let req = request(fx.path(), &[Platform::AMD64], &out);
    let fake = FakeCompiler {
        tag: vec![],
        replace_with: Some("/bin/true".into()),
    };
    let err = assemble::build_image(&fake, &req, &spec_for(&fx), &Silent).unwrap_err();
    assert!(err.message().contains("is not static"), "{}", err.message());
    assert!(err.hint_text().is_some());
}

#[test]
fn outputs_refuse_to_overwrite_without_force_and_leave_nothing_half_written() {
    let fx = fixture();
    let set = build(
        &fx,
        &[Platform::AMD64, Platform::ARM64],
        &spec_for(&fx),
        "f",
    );
    let dir = fx.path().join("img");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("keep"), "x").unwrap();
    let sink = sink_for(&Output::OciLayout(dir.clone()), SinkOptions::default()).unwrap();
    let err = sink
        .write(&set, &["svc:latest".into()], &Silent)
        .unwrap_err();
    assert!(
        err.message().contains("already exists"),
        "{}",
        err.message()
    );
    assert!(err.hint_text().unwrap().contains("--force"));
    assert!(dir.join("keep").exists());
    let forced = sink_for(&Output::OciLayout(dir.clone()), SinkOptions { force: true }).unwrap();
    forced.write(&set, &["svc:latest".into()], &Silent).unwrap();
    assert!(!dir.join("keep").exists() && dir.join("index.json").exists());
    // A multi-platform docker archive is refused, with a pointer to oci:.
    let tar = fx.path().join("x.tar");
    let archive = sink_for(&Output::DockerArchive(tar.clone()), SinkOptions::default()).unwrap();
    let err = archive
        .write(&set, &["svc:latest".into()], &Silent)
        .unwrap_err();
    assert!(
        err.hint_text().unwrap().contains("oci:"),
        "{:?}",
        err.hint_text()
    );
    assert!(!tar.exists());
    // Only the outputs are in the parent: no temporary leftovers.
    let names: Vec<String> = std::fs::read_dir(fx.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "leftovers: {names:?}");
}

/// Bad input through the real binary: each fails before building, exits
/// non-zero with a hint, and writes nothing.
#[test]
fn cli_rejects_bad_input_before_building() {
    let fx = fixture();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), fx.path().join("link")).unwrap();
    std::fs::create_dir(fx.path().join("exists")).unwrap();
    let p = fx.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--output", "tarball:x"], "unknown output scheme"),
        (vec![], "no output given"),
        (vec!["--output", "oci:exists"], "already exists"),
        (
            vec![
                "--output",
                "docker-archive:x.tar",
                "--platform",
                "linux/amd64,linux/arm64",
            ],
            "one platform",
        ),
        (
            vec!["--output", "oci:o", "--include", "missing.txt:/x"],
            "missing.txt",
        ),
        (
            vec!["--output", "oci:o", "--include", "link:/etc/secret"],
            "outside the project",
        ),
        (
            vec!["--output", "oci:o", "--include", "config/app.toml:relative"],
            "not absolute",
        ),
        (
            vec!["--output", "oci:o", "--base", "oci:nowhere"],
            "nowhere",
        ),
        (vec!["--output", "oci:o", "--env", "NOEQUALS"], "KEY=VALUE"),
        (vec!["--output", "oci:o", "--expose", "http"], "--expose"),
        (
            vec!["--output", "oci:o", "--ca-bundle", "Cargo.toml"],
            "no PEM certificate",
        ),
    ];
    let before = listing(fx.path());
    for (args, want) in cases {
        let mut cmd = chef();
        cmd.current_dir(fx.path())
            .args(["image", "--path", p])
            .args(&args);
        let r = run(&mut cmd);
        r.failed();
        assert!(
            r.stderr.contains(want),
            "{args:?}: want `{want}` in:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("hint:"),
            "{args:?}: no hint:\n{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?}: stdout:\n{}", r.stdout);
    }
    assert_eq!(listing(fx.path()), before, "nothing was written");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
