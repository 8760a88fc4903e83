//! Caching scenarios with real cargo: `cook` a recipe, copy the real
//! sources over the skeleton (as a Dockerfile's `COPY . .` does), build,
//! and prove from the `fresh` field of `--message-format json` that no
//! external crate was compiled again; and that the recipe changes (and the
//! dependencies rebuild) when an external dependency or a feature changes.
//! External dependencies are kept tiny (`itoa`, `cfg-if`) to keep this fast.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, chef, run};

const GNU: &str = "x86_64-unknown-linux-gnu";

fn project() -> Fixture {
    let f = Fixture::new(&[
        (
            "Cargo.toml",
            r#"[workspace]
members = ["app", "lib"]
resolver = "2"

[workspace.package]
version = "1.0.0"
edition = "2021"

[workspace.dependencies]
lib = { path = "lib", version = "1.0.0" }
itoa = "1"

[profile.custom]
inherits = "release"
"#,
        ),
        (
            "app/Cargo.toml",
            r#"[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
lib = { workspace = true }

[features]
loud = []
"#,
        ),
        (
            "app/build.rs",
            "fn main() { println!(\"cargo:rustc-env=GREETING=hello\"); }\n",
        ),
        (
            "app/src/main.rs",
            "fn main() { println!(\"{} {}\", env!(\"GREETING\"), lib::format(42)); }\n",
        ),
        (
            "lib/Cargo.toml",
            r#"[package]
name = "lib"
version.workspace = true
edition.workspace = true

[dependencies]
itoa = { workspace = true }
"#,
        ),
        (
            "lib/src/lib.rs",
            "pub fn format(n: u32) -> String { itoa::Buffer::new().format(n).to_string() }\n",
        ),
    ]);
    let out = Command::new("cargo")
        .arg("generate-lockfile")
        .arg("--manifest-path")
        .arg(f.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f
}

fn prepare(dir: &Path, args: &[&str]) -> String {
    run(chef()
        .arg("prepare")
        .arg("--path")
        .arg(dir)
        .arg("--recipe-path")
        .arg(dir.join("recipe.json"))
        .args(args))
    .ok();
    std::fs::read_to_string(dir.join("recipe.json")).unwrap()
}

fn cook(cook_dir: &Path, recipe: &str, args: &[&str]) -> common::Run {
    std::fs::write(cook_dir.join("recipe.json"), recipe).unwrap();
    let r = run(chef()
        .arg("cook")
        .arg("--path")
        .arg(cook_dir)
        .arg("--recipe-path")
        .arg(cook_dir.join("recipe.json"))
        .args(args));
    r.ok();
    r
}

/// Copies the project's files (not target/) over the cook directory, the
/// way `COPY . .` does, keeping the (older) mtimes of the originals.
fn sync(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if e.file_name() == "target" {
            continue;
        }
        if p.is_dir() {
            std::fs::create_dir_all(&t).unwrap();
            sync(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
            let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&t)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        }
    }
}

struct Unit {
    package_id: String,
    fresh: bool,
    executable: Option<PathBuf>,
}

/// The cargo build `muslrust-chef build` runs for a non-musl target, with
/// JSON messages.
fn cargo_build(dir: &Path, args: &[&str]) -> Vec<Unit> {
    let out = Command::new("cargo")
        .arg("build")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--message-format=json-render-diagnostics")
        .args(["--target", GNU, "--bin", "app", "-p", "app"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact")
        .map(|v| Unit {
            package_id: v["package_id"].as_str().unwrap().to_string(),
            fresh: v["fresh"].as_bool().unwrap(),
            executable: v["executable"].as_str().map(PathBuf::from),
        })
        .collect()
}

fn is_external(u: &Unit) -> bool {
    !u.package_id.starts_with("path+")
}

/// No external crate compiled; the local ones were (the real sources, not
/// the dummies); the binary prints the real output.
fn assert_cached(units: &[Unit], expect_output: &str) {
    let externals: Vec<&Unit> = units.iter().filter(|u| is_external(u)).collect();
    assert!(!externals.is_empty(), "no external crate in the build");
    let recompiled: Vec<&str> = externals
        .iter()
        .filter(|u| !u.fresh)
        .map(|u| u.package_id.as_str())
        .collect();
    assert!(
        recompiled.is_empty(),
        "external crates recompiled: {recompiled:?}"
    );
    let exe = units
        .iter()
        .find_map(|u| u.executable.clone())
        .expect("the app binary");
    let out = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expect_output);
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{file} lacks {from:?}");
    std::fs::write(&p, s.replacen(from, to, 1)).unwrap();
}

/// Keeps Cargo.lock in step with edited local versions (what cargo does
/// on the next build), without touching the network.
fn relock(dir: &Path) {
    let out = Command::new("cargo")
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn source_and_local_version_changes_reuse_every_dependency() {
    let p = project();
    // Add cfg-if so there are two external crates.
    edit(
        p.path(),
        "app/Cargo.toml",
        "[dependencies]\n",
        "[dependencies]\ncfg-if = \"1\"\n",
    );
    let out = Command::new("cargo")
        .args(["update", "-w", "--manifest-path"])
        .arg(p.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recipe = prepare(p.path(), &["--target", GNU]);
    let c = tempfile::tempdir().unwrap();
    let r = cook(c.path(), &recipe, &[]);
    assert!(r.stderr.contains("Compiling itoa"), "{}", r.stderr);
    // Nothing of the dummies is left to shadow the real crates.
    let deps = c.path().join("target").join(GNU).join("debug");
    let leftovers: Vec<String> = std::fs::read_dir(deps.join(".fingerprint"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("app-") || n.starts_with("lib-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "dummy fingerprints left: {leftovers:?}"
    );
    assert!(!deps.join("app").exists());

    sync(p.path(), c.path());
    assert_cached(&cargo_build(c.path(), &[]), "hello 42");

    let changes: &[(&str, &str, &str, &str)] = &[
        ("app/src/main.rs", "{} {}", "{}! {}", "hello! 42"),
        ("app/build.rs", "=hello", "=howdy", "howdy! 42"),
        (
            "app/Cargo.toml",
            "version = \"0.1.0\"",
            "version = \"0.2.0\"",
            "howdy! 42",
        ),
        (
            "Cargo.toml",
            "version = \"1.0.0\"\nedition",
            "version = \"1.5.0\"\nedition",
            "howdy! 42",
        ),
        (
            "Cargo.toml",
            "version = \"1.0.0\" }",
            "version = \"1.5.0\" }",
            "howdy! 42",
        ),
        ("lib/src/lib.rs", "format(n)", "format(n + 1)", "howdy! 43"),
    ];
    for (file, from, to, expect) in changes {
        edit(p.path(), file, from, to);
        relock(p.path());
        assert_eq!(
            prepare(p.path(), &["--target", GNU]),
            recipe,
            "the recipe changed after editing {file}"
        );
        sync(p.path(), c.path());
        assert_cached(&cargo_build(c.path(), &[]), expect);
    }
}

#[test]
fn external_dependency_feature_and_lockfile_changes_change_the_recipe() {
    let p = project();
    let base = prepare(p.path(), &[]);
    assert_ne!(prepare(p.path(), &["--features", "loud"]), base);

    // A new external dependency: new recipe, and cooking it compiles it.
    let c = tempfile::tempdir().unwrap();
    cook(c.path(), &prepare(p.path(), &["--target", GNU]), &[]);
    edit(
        p.path(),
        "lib/Cargo.toml",
        "[dependencies]\n",
        "[dependencies]\ncfg-if = \"1\"\n",
    );
    let out = Command::new("cargo")
        .args(["update", "-w", "--manifest-path"])
        .arg(p.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = prepare(p.path(), &["--target", GNU]);
    assert_ne!(changed, prepare(p.path(), &[]));
    let r = cook(c.path(), &changed, &[]);
    assert!(r.stderr.contains("Compiling cfg-if"), "{}", r.stderr);
    assert!(!r.stderr.contains("Compiling itoa"), "{}", r.stderr);

    // A lockfile change of an external entry changes the recipe.
    let before = prepare(p.path(), &[]);
    edit(
        p.path(),
        "Cargo.lock",
        "name = \"itoa\"\nversion = \"1.0.",
        "name = \"itoa\"\nversion = \"1.0.1",
    );
    assert_ne!(prepare(p.path(), &[]), before);
}

#[test]
fn profiles_and_custom_target_dir() {
    let p = project();
    for (flags, dir) in [
        (&["--release"][..], "release"),
        (&["--profile", "custom"][..], "custom"),
    ] {
        let mut prep = vec!["--target", GNU];
        prep.extend_from_slice(flags);
        let recipe = prepare(p.path(), &prep);
        let c = tempfile::tempdir().unwrap();
        let td = c.path().join("elsewhere");
        let td_s = td.to_str().unwrap();
        cook(c.path(), &recipe, &["--target-dir", td_s]);
        assert!(td.join(GNU).join(dir).join("deps").is_dir());
        sync(p.path(), c.path());
        let mut args = flags.to_vec();
        args.extend(["--target-dir", td_s]);
        assert_cached(&cargo_build(c.path(), &args), "hello 42");
    }
}

#[test]
fn cook_warns_about_settings_that_differ_from_the_recipe() {
    let p = project();
    let recipe = prepare(p.path(), &["--target", GNU, "--release"]);
    let c = tempfile::tempdir().unwrap();
    let r = cook(c.path(), &recipe, &["--no-build", "--profile", "custom"]);
    assert!(
        r.stderr
            .contains("prepared with profile release but cook was given custom"),
        "{}",
        r.stderr
    );
}

#[test]
fn musl_platform_cook_then_build_reuses_dependencies() {
    if !common::require_musl_toolchains() {
        return;
    }
    let p = project();
    let recipe = prepare(p.path(), &["--release"]);
    let c = tempfile::tempdir().unwrap();
    let r = cook(c.path(), &recipe, &[]);
    assert!(r.stderr.contains("Compiling itoa"), "{}", r.stderr);
    sync(p.path(), c.path());
    edit(c.path(), "app/src/main.rs", "{} {}", "{}, {}");
    let b = run(chef()
        .arg("build")
        .arg("--path")
        .arg(c.path())
        .arg("--release"));
    b.ok();
    assert!(!b.stderr.contains("Compiling itoa"), "{}", b.stderr);
    assert!(b.stderr.contains("Compiling app"), "{}", b.stderr);
    assert!(!b.stderr.contains("CACHE MISS"), "{}", b.stderr);
    let exe = b.stdout.lines().next().unwrap().trim().to_string();
    let out = Command::new(&exe).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello, 42");
    // Without flags, build takes the recipe's settings (release here).
    let b = run(chef().arg("build").arg("--path").arg(c.path()));
    b.ok();
    assert!(
        b.stderr.contains("using the recipe's profile"),
        "{}",
        b.stderr
    );
    assert!(!b.stderr.contains("CACHE MISS"), "{}", b.stderr);
    // A build given other settings than the recipe's says so, loudly.
    let b = run(chef()
        .args(["build", "--profile", "dev", "--path"])
        .arg(c.path()));
    b.ok();
    assert!(b.stderr.contains("CACHE MISS"), "{}", b.stderr);
}
