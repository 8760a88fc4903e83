//! `muslrust-chef build` end to end on temp fixture projects: static
//! binaries for linux/amd64 and linux/arm64 that run (arm64 under qemu),
//! C code through `cc`, unwinding, user flags kept, the std sysroot cache
//! reused, and bad input rejected without partial output.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, chef, require_musl_toolchains, run, run_for_platform};

const BOTH: &str = "linux/amd64,linux/arm64";

const HELLO: &str = r#"
fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| panic!("boom")).is_err();
    println!("hello {} caught={caught}", std::env::consts::ARCH);
}
"#;

fn arch_of(platform: &str) -> &'static str {
    match platform {
        "linux/amd64" => "x86_64",
        _ => "aarch64",
    }
}

/// Builds `fx` for both platforms into `out` and returns the paths printed
/// on stdout, keyed by platform.
fn build_both(fx: &Fixture, out: &Path, extra: &[&str]) -> Vec<(String, PathBuf)> {
    let r = run(chef()
        .args(["build", "--platform", BOTH, "--out"])
        .arg(out)
        .arg("--path")
        .arg(fx.path())
        .args(extra));
    r.ok();
    let paths: Vec<PathBuf> = r.stdout.lines().map(PathBuf::from).collect();
    assert_eq!(
        paths.len(),
        2,
        "one path per platform on stdout, got {:?}",
        r.stdout
    );
    vec![
        (
            "linux/amd64".into(),
            out.join("linux-amd64").join(paths[0].file_name().unwrap()),
        ),
        (
            "linux/arm64".into(),
            out.join("linux-arm64").join(paths[1].file_name().unwrap()),
        ),
    ]
    .into_iter()
    .inspect(|(_, p)| assert!(paths.contains(p), "{p:?} not printed"))
    .collect()
}

fn inspect_json(path: &Path) -> serde_json::Value {
    let r = run(chef().args(["inspect", "--json"]).arg(path));
    r.ok();
    serde_json::from_str(&r.stdout).expect("inspect --json prints JSON")
}

#[test]
fn hello_is_static_runs_and_unwinds_on_both_platforms() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::bin_crate("hello-fixture", HELLO);
    let out = fx.path().join("out");
    for (platform, exe) in build_both(&fx, &out, &["--release"]) {
        let facts = inspect_json(&exe);
        assert_eq!(facts["is_static"], true, "{platform}: {facts}");
        assert_eq!(facts["platform"], platform.as_str());
        assert!(facts["needed"].as_array().unwrap().is_empty());
        let r = run_for_platform(&exe, &platform);
        r.ok();
        assert_eq!(
            r.stdout.trim(),
            format!("hello {} caught=true", arch_of(&platform)),
            "{platform}"
        );
    }
}

#[test]
fn c_code_through_cc_crate_links_statically() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"cfix\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[build-dependencies]\ncc = \"1\"\n",
        ),
        (
            "build.rs",
            "fn main() { cc::Build::new().file(\"c/add.c\").compile(\"add\"); }\n",
        ),
        (
            "c/add.c",
            "#include <stdio.h>\n#include <string.h>\nint add_in_c(int a, int b) { char buf[32]; snprintf(buf, sizeof buf, \"%d\", a + b); return (int)strlen(buf) * 1000 + a + b; }\n",
        ),
        (
            "src/main.rs",
            "unsafe extern \"C\" { fn add_in_c(a: i32, b: i32) -> i32; }\nfn main() { println!(\"c says {}\", unsafe { add_in_c(40, 2) }); }\n",
        ),
    ]);
    let out = fx.path().join("out");
    for (platform, exe) in build_both(&fx, &out, &[]) {
        assert_eq!(inspect_json(&exe)["is_static"], true);
        let r = run_for_platform(&exe, &platform);
        r.ok();
        assert_eq!(r.stdout.trim(), "c says 2042", "{platform}");
    }
}

#[test]
fn user_rustflags_from_config_and_env_are_kept() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::bin_crate(
        "flags-fixture",
        "fn main() { println!(\"cfg_file={} cfg_env={}\", cfg!(from_file), cfg!(from_env)); }\n",
    );
    fx.write(
        ".cargo/config.toml",
        "[build]\nrustflags = [\"--cfg\", \"from_file\"]\n",
    );
    let out = fx.path().join("out");
    let r = run(chef()
        .args(["build", "--platform", "linux/amd64", "--out"])
        .arg(&out)
        .current_dir(fx.path()));
    r.ok();
    let exe = PathBuf::from(r.stdout.trim());
    assert_eq!(
        run_for_platform(&exe, "linux/amd64").stdout.trim(),
        "cfg_file=true cfg_env=false"
    );
    // RUSTFLAGS overrides config files in cargo; it must still be honoured
    // (and our own flags must still apply: the result is static).
    let r = run(chef()
        .args(["build", "--platform", "linux/amd64", "--out"])
        .arg(&out)
        .env("RUSTFLAGS", "--cfg from_env")
        .current_dir(fx.path()));
    r.ok();
    assert_eq!(
        run_for_platform(&exe, "linux/amd64").stdout.trim(),
        "cfg_file=false cfg_env=true"
    );
    assert_eq!(inspect_json(&exe)["is_static"], true);
}

/// The std built from source is cached per (rustc, target) and reused by
/// another project: its stamp and rlibs are untouched and no "building
/// std" step runs.
#[test]
fn std_sysroot_is_built_once_and_reused_by_another_project() {
    if !require_musl_toolchains() {
        return;
    }
    let doctor = run(chef().args(["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let std_detail = v["platforms"][0]["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    if !std_detail.starts_with("from source") {
        eprintln!("std is installed by rustup here ({std_detail}): no sysroot to reuse");
        return;
    }
    let first = Fixture::bin_crate("first-fixture", HELLO);
    build_both(&first, &first.path().join("out"), &[]);
    let snapshot = sysroot_state();
    assert!(
        !snapshot.is_empty(),
        "a built sysroot exists after the first build"
    );
    let second = Fixture::bin_crate("second-fixture", HELLO);
    let r = run(chef()
        .args(["build", "--platform", BOTH, "--path"])
        .arg(second.path()));
    r.ok();
    assert!(
        !r.stderr.contains("building std"),
        "std was rebuilt:\n{}",
        r.stderr
    );
    assert_eq!(sysroot_state(), snapshot, "the cached sysroot changed");
}

/// Every file under the cache's sysroot dir with its modification time.
fn sysroot_state() -> Vec<(PathBuf, std::time::SystemTime)> {
    let dir = std::env::var_os("MUSLRUST_CHEF_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs_cache().join("muslrust-chef"))
        .join("sysroot");
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                out.push((p, m.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"))
}

#[test]
fn build_script_linking_a_shared_library_is_rejected() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"dynfix\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        ),
        (
            "build.rs",
            "fn main() { println!(\"cargo:rustc-link-lib=dylib=z\"); }\n",
        ),
        ("src/main.rs", "fn main() {}\n"),
    ]);
    let out = fx.path().join("out");
    let r = run(chef()
        .args(["build", "--platform", "linux/amd64", "--out"])
        .arg(&out)
        .arg("--path")
        .arg(fx.path()));
    r.failed();
    assert!(r.stderr.contains("shared libraries"), "{}", r.stderr);
    assert!(
        r.stderr.contains("z (from dynfix's build script)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(!out.exists(), "nothing is written to --out on failure");
}

/// A linker that produces a dynamic executable (here: one that drops in
/// the host's dynamically linked `true`) must not get past verification,
/// and the error names the libraries.
#[test]
fn a_dynamic_result_is_an_error_naming_its_libraries() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::bin_crate("dyn-result", "fn main() {}\n");
    fx.write(
        "fake-ld.sh",
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then out=$2; fi; shift; done\ncp /bin/true \"$out\"\n",
    );
    let ld = fx.path().join("fake-ld.sh");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ld, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = fx.path().join("out");
    let r = run(chef()
        .args(["build", "--platform", "linux/amd64", "--out"])
        .arg(&out)
        .arg("--path")
        .arg(fx.path())
        .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER", &ld));
    r.failed();
    assert!(r.stderr.contains("is not static"), "{}", r.stderr);
    assert!(r.stderr.contains("libc.so.6"), "{}", r.stderr);
    assert!(!out.exists(), "nothing is written to --out on failure");
}

fn expect_error(args: &[&str], dir: &Path, needle: &str) {
    let r = run(chef().args(args).current_dir(dir));
    r.failed();
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line:\n{}", r.stderr);
    assert!(
        r.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "a hint:\n{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing on stdout:\n{}", r.stdout);
}

#[test]
fn bad_input_gets_one_error_line_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    expect_error(&["build"], empty.path(), "is not a Cargo project");
    let lib = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"onlylib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        ),
        ("src/lib.rs", ""),
    ]);
    expect_error(&["build"], lib.path(), "has no binary target");
    let fx = Fixture::bin_crate("badinput", "fn main() {}\n");
    expect_error(
        &["build", "--platform", "linux/riscv64"],
        fx.path(),
        "unknown platform `linux/riscv64`",
    );
    expect_error(
        &["build", "--bin", "nope"],
        fx.path(),
        "no binary target named `nope`",
    );
    let broken = Fixture::new(&[("Cargo.toml", "[package\nname = 1\n"), ("src/main.rs", "")]);
    expect_error(&["build"], broken.path(), "Cargo.toml");
}

#[test]
fn missing_c_toolchain_is_reported_with_the_fix() {
    let fx = Fixture::bin_crate("nocc", "fn main() {}\n");
    let out = fx.path().join("out");
    let r = run(chef()
        .args(["build", "--platform", "linux/arm64", "--out"])
        .arg(&out)
        .current_dir(fx.path())
        .env("CC_aarch64_unknown_linux_musl", "no-such-musl-gcc"));
    r.failed();
    assert!(r.stderr.contains("no-such-musl-gcc"), "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn message_format_json_emits_one_object_per_artifact() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"twobins\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        ),
        ("src/main.rs", "fn main() { println!(\"main\"); }\n"),
        ("src/bin/other.rs", "fn main() { println!(\"other\"); }\n"),
    ]);
    let r = run(chef()
        .args([
            "-q",
            "build",
            "--strip",
            "--message-format",
            "json",
            "--platform",
            "linux/amd64",
            "--path",
        ])
        .arg(fx.path()));
    r.ok();
    let objs: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect();
    let mut bins: Vec<&str> = objs.iter().map(|o| o["bin"].as_str().unwrap()).collect();
    bins.sort();
    assert_eq!(bins, ["other", "twobins"]);
    for o in &objs {
        assert_eq!(o["report"]["is_static"], true);
        assert_eq!(o["report"]["stripped"], true);
        assert_eq!(o["platform"], "linux/amd64");
        assert!(Path::new(o["path"].as_str().unwrap()).is_file());
    }
    assert!(r.stderr.is_empty(), "-q keeps stderr quiet: {}", r.stderr);
}

/// A recipe in the project directory supplies the settings `build` is not
/// given (so `build` hits the cooked cache), and a differing flag is
/// warned about as a cache miss.
#[test]
fn build_takes_unset_settings_from_the_recipe() {
    if !require_musl_toolchains() {
        return;
    }
    let fx = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"recipefix\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[features]\nloud = []\n",
        ),
        (
            "src/main.rs",
            "fn main() { println!(\"loud={} release={}\", cfg!(feature = \"loud\"), !cfg!(debug_assertions)); }\n",
        ),
    ]);
    run(chef()
        .args([
            "prepare",
            "--release",
            "--features",
            "loud",
            "--generate-lockfile",
            "--platform",
            "linux/amd64",
        ])
        .current_dir(fx.path()))
    .ok();
    assert!(fx.path().join("recipe.json").is_file());
    let r = run(chef().arg("build").current_dir(fx.path()));
    r.ok();
    assert!(
        r.stderr.contains("using the recipe's profile, features"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("CACHE MISS"), "{}", r.stderr);
    let exe = PathBuf::from(r.stdout.trim());
    assert_eq!(
        run_for_platform(&exe, "linux/amd64").stdout.trim(),
        "loud=true release=true"
    );
    let r = run(chef()
        .args(["build", "--profile", "dev"])
        .current_dir(fx.path()));
    r.ok();
    assert!(r.stderr.contains("CACHE MISS"), "{}", r.stderr);
}
