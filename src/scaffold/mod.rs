//! `init`: the files a project needs to keep building in Docker and in CI
//! (a multi-stage Dockerfile, a `.dockerignore`, GitHub Actions workflows),
//! generated from the project's own metadata rather than copied from a
//! fixed template, and written without clobbering the user's files.
//!
//! Generation is pure (a [`Plan`] in, [`GeneratedFile`]s out) so templates
//! are tested in milliseconds; [`write_all`] is the only part touching disk.

mod dockerfile;
mod dockerignore;
mod workflows;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::project::Project;

pub use dockerignore::dockerignore_entries;

/// The builder image generated Dockerfiles use unless told otherwise
/// (published by the repository's `build-push-muslrust-chef.yaml`).
pub const DEFAULT_BUILDER_REPO: &str = "ghcr.io/muslrust-chef/muslrust-chef";

/// The default builder image reference: the repository tagged with the
/// version of the muslrust-chef that wrote the Dockerfile.
pub fn default_builder_image() -> String {
    format!("{DEFAULT_BUILDER_REPO}:{}", env!("CARGO_PKG_VERSION"))
}

/// The runtime stage's base image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeBase {
    /// `cgr.dev/chainguard/static` (the reference system's choice).
    Chainguard,
    /// `gcr.io/distroless/static-debian12:nonroot`.
    Distroless,
    /// An empty image; CA certificates are copied from the builder.
    Scratch,
}

impl RuntimeBase {
    /// The image reference the runtime stage starts from.
    pub fn image(self) -> &'static str {
        match self {
            RuntimeBase::Chainguard => "cgr.dev/chainguard/static:latest",
            RuntimeBase::Distroless => "gcr.io/distroless/static-debian12:nonroot",
            RuntimeBase::Scratch => "scratch",
        }
    }

    /// Whether the base has a `nonroot` user in its `/etc/passwd` (so
    /// `COPY --chown=nonroot:nonroot` resolves).
    pub fn has_nonroot_user(self) -> bool {
        !matches!(self, RuntimeBase::Scratch)
    }
}

/// Which CI system to write workflows for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    Github,
}

/// Everything the templates need, decided once from flags and the project.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The binary the image runs.
    pub bin: String,
    /// The package that owns it.
    pub package: String,
    pub base: RuntimeBase,
    /// Default for `ARG MUSLRUST_CHEF_IMAGE`.
    pub builder_image: String,
    pub ci: Option<Ci>,
    /// `.dockerignore` re-include patterns (relative to the workspace root).
    pub keep: Vec<String>,
    /// The project's default platforms (metadata), for the workflows.
    pub platforms: Vec<String>,
}

impl Plan {
    /// Builds the plan for `project`: picks the binary (`bin`, or the only
    /// one), derives the `.dockerignore` from the manifests.
    pub fn new(
        project: &Project,
        bin: Option<&str>,
        base: RuntimeBase,
        builder_image: Option<String>,
        ci: Option<Ci>,
    ) -> Result<Plan> {
        let bins = project.select_bins(&bin.map(|b| vec![b.to_string()]).unwrap_or_default())?;
        let chosen = match bins.as_slice() {
            [one] => one.clone(),
            many => {
                let names: Vec<&str> = many.iter().map(|b| b.name.as_str()).collect();
                return Err(Error::new(format!(
                    "the project has {} binaries; the image runs one",
                    many.len()
                ))
                .hint(format!("pass --bin NAME (one of: {})", names.join(", "))));
            }
        };
        let platforms = project
            .chef_setting(Some(&chosen.package), "platforms")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .filter(|v: &Vec<String>| !v.is_empty())
            .unwrap_or_else(|| vec!["linux/amd64".into(), "linux/arm64".into()]);
        Ok(Plan {
            bin: chosen.name,
            package: chosen.package,
            base,
            builder_image: builder_image.unwrap_or_else(default_builder_image),
            ci,
            keep: dockerignore_entries(project)?,
            platforms,
        })
    }
}

/// One file `init` writes, relative to the workspace root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// All files for `plan`.
pub fn generate(plan: &Plan) -> Vec<GeneratedFile> {
    let mut v = vec![
        GeneratedFile {
            path: "Dockerfile".into(),
            contents: dockerfile::render(plan),
        },
        GeneratedFile {
            path: ".dockerignore".into(),
            contents: dockerignore::render(&plan.keep),
        },
    ];
    if plan.ci == Some(Ci::Github) {
        v.push(GeneratedFile {
            path: ".github/workflows/docker-image.yaml".into(),
            contents: workflows::docker_path(plan),
        });
        v.push(GeneratedFile {
            path: ".github/workflows/muslrust-chef-image.yaml".into(),
            contents: workflows::daemonless(plan),
        });
    }
    v
}

/// Writes `files` under `root`. Without `force`, refuses (writing nothing)
/// when any of them exists. Each file is written to a temporary name and
/// renamed, so a file is never left half written. Returns the paths
/// written.
pub fn write_all(root: &Path, files: &[GeneratedFile], force: bool) -> Result<Vec<PathBuf>> {
    if !force {
        let existing: Vec<String> = files
            .iter()
            .filter(|f| root.join(&f.path).exists())
            .map(|f| f.path.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Error::new(format!(
                "not overwriting existing file(s): {}",
                existing.join(", ")
            ))
            .hint("move them away, or pass --force to replace them"));
        }
    }
    let mut written = Vec::new();
    for f in files {
        let dest = root.join(&f.path);
        let dir = dest.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".muslrust-chef-init-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("creating a file in", dir, e))?;
        std::io::Write::write_all(&mut tmp, f.contents.as_bytes())
            .map_err(|e| Error::io("writing", tmp.path(), e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("writing", &dest, e.error))?;
        set_mode_644(&dest)?;
        written.push(dest);
    }
    Ok(written)
}

fn set_mode_644(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("changing permissions of", p, e))
}
