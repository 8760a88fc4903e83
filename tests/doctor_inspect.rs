//! `doctor` and `inspect FILE` on their own: readiness per platform with
//! the fix for each missing piece, and ELF facts (or a clear error).

mod common;

use common::{chef, run};

#[test]
fn doctor_lists_every_piece_per_platform() {
    let r = run(chef().args(["doctor", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let platforms = v["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    for p in platforms {
        let names: Vec<&str> = p["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["std", "C toolchain", "linker", "unwinder"]);
        for c in p["checks"].as_array().unwrap() {
            assert_eq!(
                c["ok"] == false,
                c["fix"].is_string(),
                "a fix exactly when missing: {c}"
            );
        }
    }
    assert!(v["docker"]["name"] == "docker daemon");
}

#[test]
fn doctor_fails_with_the_fix_when_the_host_platform_cannot_build() {
    let host_triple = match std::env::consts::ARCH {
        "x86_64" => "x86_64_unknown_linux_musl",
        _ => "aarch64_unknown_linux_musl",
    };
    let r = run(chef()
        .arg("doctor")
        .env(format!("CC_{host_triple}"), "/nonexistent/musl-gcc"));
    r.failed();
    assert!(r.stdout.contains("NOT READY"), "{}", r.stdout);
    assert!(r.stdout.contains("/nonexistent/musl-gcc"), "{}", r.stdout);
    assert!(r.stdout.contains("fix:"), "{}", r.stdout);
}

#[test]
fn inspect_reports_a_dynamic_host_binary_and_rejects_non_elf() {
    // /bin/true is a dynamically linked glibc executable on Debian.
    let r = run(chef().args(["inspect", "--json", "/bin/true"]));
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["is_static"], false);
    assert!(v["interpreter"].as_str().unwrap().contains("ld-linux"));
    assert!(
        v["needed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "libc.so.6"),
        "{v}"
    );
    assert_eq!(v["allocator"], "glibc");
    let text = run(chef().args(["inspect", "/bin/true"]));
    text.ok();
    assert!(
        text.stdout.contains("static            no"),
        "{}",
        text.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "not a binary").unwrap();
    let r = run(chef().arg("inspect").arg(&f));
    r.failed();
    assert!(
        r.stderr.contains("error:") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );
}
