//! Where images go. Every destination is a [`Sink`] behind one interface:
//! an OCI image layout directory, a `docker load` archive, a running Docker
//! daemon, or (with the registry work) a registry. The CLI parses
//! `--output`/`--load`/`--push` into an [`Output`] once; [`sink_for`] turns
//! it into a sink, and nothing else in the program knows which one it is.
//!
//! Files on disk are written under a temporary name next to the target and
//! renamed at the end, so a failure never leaves a half-written output.

pub mod daemon;
pub mod docker_archive;
pub mod oci_layout;
pub mod registry;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::image::ImageSet;
use crate::reporter::Reporter;

/// A parsed output destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `oci:DIR`: an OCI image layout directory.
    OciLayout(PathBuf),
    /// `docker-archive:FILE`: a tarball for `docker load` (one platform).
    DockerArchive(PathBuf),
    /// `--load` / `docker-daemon:`: the local Docker daemon.
    Daemon,
    /// `--push REF` / `registry:REF`: a registry repository.
    Registry(String),
}

impl FromStr for Output {
    type Err = Error;

    fn from_str(s: &str) -> Result<Output> {
        let hint = "use --output oci:DIR, --output docker-archive:FILE, --load or --push REF";
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(Error::new(format!("output `{s}` has no scheme")).hint(hint));
        };
        let need_path = |what: &str| -> Result<PathBuf> {
            if rest.is_empty() {
                Err(
                    Error::new(format!("`{scheme}:` needs a {what}")).hint(format!(
                        "e.g. --output {scheme}:{}",
                        if what == "directory" {
                            "./image"
                        } else {
                            "./image.tar"
                        }
                    )),
                )
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        match scheme {
            "oci" => Ok(Output::OciLayout(need_path("directory")?)),
            "docker-archive" => Ok(Output::DockerArchive(need_path("file")?)),
            "docker-daemon" | "daemon" => Ok(Output::Daemon),
            "registry" | "docker" => {
                Ok(Output::Registry(rest.trim_start_matches("//").to_string()))
            }
            other => Err(Error::new(format!("unknown output scheme `{other}:`")).hint(hint)),
        }
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::OciLayout(p) => write!(f, "oci:{}", p.display()),
            Output::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            Output::Daemon => f.write_str("docker-daemon:"),
            Output::Registry(r) => write!(f, "registry:{r}"),
        }
    }
}

/// How a sink may treat what is already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkOptions {
    /// Replace an existing output file or directory.
    pub force: bool,
}

/// A destination for an [`ImageSet`].
pub trait Sink {
    /// Writes `images`, naming them `tags` where the destination has names
    /// (`NAME:TAG`; a sink may use only the tag part). Returns the lines to
    /// print on stdout: `DIGEST REFERENCE`, one per tag.
    fn write(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>>;

    /// Checks, before anything is built, that writing can work (the path
    /// is free or `--force` was given, the daemon answers, ...), so a bad
    /// output fails fast instead of after a long compile.
    fn preflight(&self, _images_platforms: usize) -> Result<()> {
        Ok(())
    }
}

/// The sink for `output`.
pub fn sink_for(output: &Output, opts: SinkOptions) -> Result<Box<dyn Sink>> {
    match output {
        Output::OciLayout(dir) => Ok(Box::new(oci_layout::OciLayoutSink::new(dir.clone(), opts))),
        Output::DockerArchive(file) => Ok(Box::new(docker_archive::DockerArchiveSink::new(
            file.clone(),
            opts,
        ))),
        Output::Daemon => Ok(Box::new(daemon::DaemonSink::from_env()?)),
        Output::Registry(r) => Ok(Box::new(registry::RegistrySink::new(
            r,
            registry::RegistrySinkOptions::default(),
        )?)),
    }
}

/// Refuses an existing `path` unless `force`.
pub(crate) fn check_free(path: &Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::new(format!("{} already exists", path.display()))
            .hint("pass --force to replace it, or choose another path"));
    }
    Ok(())
}

/// The directory a new output at `path` is staged in (its parent).
pub(crate) fn parent_dir(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(Error::new(format!("{} does not exist", parent.display()))
            .hint("create the directory first, or choose another output path"));
    }
    Ok(parent)
}

/// Default tags when none are given: `<name>:latest`.
pub fn normalize_tag(tag: &str) -> String {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') || tag.contains('@') {
        tag.to_string()
    } else {
        format!("{tag}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes() {
        assert_eq!(
            "oci:out".parse::<Output>().unwrap(),
            Output::OciLayout("out".into())
        );
        assert_eq!(
            "docker-archive:/tmp/x.tar".parse::<Output>().unwrap(),
            Output::DockerArchive("/tmp/x.tar".into())
        );
        let e = "tarball:x".parse::<Output>().unwrap_err();
        assert!(e.message().contains("tarball"), "{}", e.message());
        assert!(e.hint_text().unwrap().contains("oci:DIR"));
        assert!("oci:".parse::<Output>().is_err());
        assert!("plain".parse::<Output>().is_err());
    }

    #[test]
    fn tags_default_to_latest() {
        assert_eq!(normalize_tag("app"), "app:latest");
        assert_eq!(
            normalize_tag("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalize_tag("app:1.0"), "app:1.0");
    }
}
