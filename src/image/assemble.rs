//! From built binaries to images: the app layer (the binary at
//! `/usr/local/bin/<bin>` plus `--include` files) on top of the built-in
//! base or another image, a config per platform, a manifest per platform
//! and, for several platforms, an index. [`build_image`] runs the
//! compiler through the [`Compiler`] seam first, so tests can hand it a
//! fake that writes a stub binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::base::{self, BaseOptions};
use super::config::{self, RuntimeConfig};
use super::layer::{self, LayerBuilder};
use super::{Blob, Image, ImagePlatform, ImageSet, annotation, time};
use crate::compile::{BuildRequest, Compiler};
use crate::error::{Error, Result};
use crate::inspect;
use crate::platform::Platform;
use crate::project::Project;
use crate::reporter::Reporter;

/// What the app layer sits on.
#[derive(Debug, Clone)]
pub enum BaseChoice {
    /// The built-in base ([`base`]).
    BuiltIn(BaseOptions),
    /// Another image (e.g. read with `output::oci_layout::read_layout`),
    /// named `name` in the `base.name` annotation.
    Image { name: String, images: ImageSet },
}

/// A file to copy into the app layer, read up front so nothing fails
/// after the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Absolute path in the image.
    pub dest: String,
    pub data: Arc<[u8]>,
    pub mode: u32,
}

/// OCI annotations and labels taken from Cargo metadata and git.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub title: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub licenses: Option<String>,
    pub source: Option<String>,
    pub revision: Option<String>,
}

impl Metadata {
    /// From the package owning `bin`, and git's `HEAD` in the workspace
    /// (when it is a git checkout).
    pub fn from_project(project: &Project, bin: &str) -> Metadata {
        let pkg = project.package_of(bin);
        Metadata {
            title: Some(bin.to_string()),
            description: pkg.and_then(|p| p.description.clone()),
            version: pkg.map(|p| p.version.clone()),
            licenses: pkg.and_then(|p| p.license.clone()),
            source: pkg.and_then(|p| p.repository.clone().or_else(|| p.homepage.clone())),
            revision: git_revision(&project.workspace_root),
        }
    }

    fn entries(&self, created: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(annotation::CREATED.to_string(), created.to_string());
        let pairs = [
            (annotation::TITLE, &self.title),
            (annotation::DESCRIPTION, &self.description),
            (annotation::VERSION, &self.version),
            (annotation::LICENSES, &self.licenses),
            (annotation::SOURCE, &self.source),
            (annotation::REVISION, &self.revision),
        ];
        for (k, v) in pairs {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                m.insert(k.to_string(), v.clone());
            }
        }
        m
    }
}

/// The commit checked out at `dir`, if it is a git work tree.
pub fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && s.len() >= 40).then_some(s)
}

/// Everything about an image except the binaries: a validated plan.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub base: BaseChoice,
    /// `--user` (default `65532:65532`).
    pub user: Option<String>,
    /// `--env K=V`, in order.
    pub env: Vec<(String, String)>,
    /// `--label K=V` (added to, and overriding, the metadata labels).
    pub labels: BTreeMap<String, String>,
    /// `--expose PORT[/PROTO]`.
    pub expose: Vec<String>,
    pub includes: Vec<Include>,
    pub metadata: Metadata,
    /// Seconds since the epoch for every timestamp.
    pub epoch: u64,
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec {
            base: BaseChoice::BuiltIn(BaseOptions::default()),
            user: None,
            env: Vec::new(),
            labels: BTreeMap::new(),
            expose: Vec::new(),
            includes: Vec::new(),
            metadata: Metadata::default(),
            epoch: 0,
        }
    }
}

/// Parses `KEY=VALUE` (for `--env`, `--label`).
pub fn parse_key_value(s: &str, flag: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(Error::new(format!("{flag} `{s}` is not KEY=VALUE"))
            .hint(format!("e.g. {flag} RUST_LOG=info"))),
    }
}

/// Parses `--expose PORT[/tcp|/udp|/sctp]` into `PORT/PROTO`.
pub fn parse_port(s: &str) -> Result<String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let ok_port = port.parse::<u16>().is_ok_and(|p| p > 0);
    if !ok_port || !["tcp", "udp", "sctp"].contains(&proto) {
        return Err(
            Error::new(format!("--expose `{s}` is not PORT or PORT/PROTO"))
                .hint("e.g. --expose 8080 or --expose 53/udp"),
        );
    }
    Ok(format!("{port}/{proto}"))
}

/// Resolves `--include SRC:DEST` (SRC relative to the current directory):
/// SRC must exist and stay inside `root` after resolving symlinks (like a
/// Docker build context), so an image never picks up files from elsewhere
/// on the machine. A directory is copied recursively, sorted.
pub fn resolve_include(root: &Path, spec: &str) -> Result<Vec<Include>> {
    let (src, dest) = spec.split_once(':').ok_or_else(|| {
        Error::new(format!("--include `{spec}` is not SRC:DEST"))
            .hint("e.g. --include config/app.toml:/etc/app/app.toml")
    })?;
    if !dest.starts_with('/') {
        return Err(
            Error::new(format!("--include destination `{dest}` is not absolute"))
                .hint("give the path inside the image, starting with /"),
        );
    }
    let dest = format!("/{}", layer::normalize(dest)?);
    let root = root
        .canonicalize()
        .map_err(|e| Error::io("resolving", root, e))?;
    let src_path = PathBuf::from(src);
    let real = src_path.canonicalize().map_err(|e| {
        Error::io("--include: reading", &src_path, e)
            .hint("SRC is relative to the current directory; check the path")
    })?;
    let inside = |p: &Path| -> Result<()> {
        if p.starts_with(&root) {
            Ok(())
        } else {
            Err(Error::new(format!(
                "--include `{src}` resolves to {}, outside the project directory {}",
                p.display(),
                root.display()
            ))
            .hint("include only files inside the project (a symlink must not point out of it); copy the file in first"))
        }
    };
    inside(&real)?;
    let mut out = Vec::new();
    if real.is_dir() {
        fn walk(
            root: &Path,
            dir: &Path,
            dest: &str,
            check: &dyn Fn(&Path) -> Result<()>,
            out: &mut Vec<Include>,
        ) -> Result<()> {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| Error::io("reading", dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            names.sort();
            for p in names {
                let real = p
                    .canonicalize()
                    .map_err(|e| Error::io("--include: reading", &p, e))?;
                check(&real)?;
                let rel = p
                    .strip_prefix(root)
                    .expect("below root")
                    .to_string_lossy()
                    .into_owned();
                let d = format!("{}/{rel}", dest.trim_end_matches('/'));
                if real.is_dir() {
                    walk(&p, &p, &d, check, out)?;
                } else {
                    out.push(read_include(&real, d)?);
                }
            }
            Ok(())
        }
        walk(&real, &real, &dest, &inside, &mut out)?;
    } else {
        let d = if dest.ends_with('/') || spec.ends_with('/') {
            format!(
                "{}/{}",
                dest.trim_end_matches('/'),
                real.file_name().unwrap_or_default().to_string_lossy()
            )
        } else {
            dest
        };
        out.push(read_include(&real, d)?);
    }
    Ok(out)
}

fn read_include(path: &Path, dest: String) -> Result<Include> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io("--include: reading", path, e))?;
    if !meta.is_file() {
        return Err(Error::new(format!(
            "--include: {} is not a regular file",
            path.display()
        )));
    }
    let data = std::fs::read(path).map_err(|e| Error::io("--include: reading", path, e))?;
    let mode = if meta.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    Ok(Include {
        dest,
        data: data.into(),
        mode,
    })
}

/// Checks the plan against the platforms before anything is built: a
/// base image must have every platform.
pub fn check_platforms(spec: &ImageSpec, platforms: &[Platform]) -> Result<()> {
    if let BaseChoice::Image { name, images } = &spec.base {
        for &p in platforms {
            if !images.images.iter().any(|i| i.platform.matches(p)) {
                let have: Vec<String> = images
                    .images
                    .iter()
                    .map(|i| i.platform.to_string())
                    .collect();
                return Err(Error::new(format!(
                    "the base image {name} has no {p} image (it has {})",
                    have.join(", ")
                ))
                .hint(format!(
                    "build for its platforms with --platform {}, or use a base for {p}",
                    have.join(",")
                )));
            }
        }
    }
    Ok(())
}

/// Assembles one image per platform around `binaries` (platform, ELF
/// bytes), all named `bin`.
pub fn assemble(spec: &ImageSpec, bin: &str, binaries: &[(Platform, Vec<u8>)]) -> Result<ImageSet> {
    if binaries.is_empty() {
        return Err(Error::new("no binary to put into the image"));
    }
    let platforms: Vec<Platform> = binaries.iter().map(|(p, _)| *p).collect();
    check_platforms(spec, &platforms)?;
    let created = time::rfc3339(spec.epoch);
    let exe = format!("/usr/local/bin/{bin}");
    let builtin_base = match &spec.base {
        BaseChoice::BuiltIn(opts) => Some(base::layer(opts, spec.epoch)?),
        BaseChoice::Image { .. } => None,
    };
    let mut labels = spec.metadata.entries(&created);
    labels.extend(spec.labels.clone());
    let mut env = vec![
        ("PATH".to_string(), base::DEFAULT_PATH.to_string()),
        (
            "SSL_CERT_FILE".to_string(),
            base::CA_BUNDLE_PATH.to_string(),
        ),
    ];
    env.extend(spec.env.iter().cloned());
    let rt = RuntimeConfig {
        user: spec
            .user
            .clone()
            .unwrap_or_else(|| format!("{0}:{0}", base::NONROOT_UID)),
        env,
        entrypoint: vec![exe.clone()],
        working_dir: base::NONROOT_HOME.to_string(),
        labels: labels.clone(),
        exposed_ports: spec.expose.clone(),
    };
    let mut images = Vec::new();
    for (platform, data) in binaries {
        let mut app = LayerBuilder::new();
        app.file(&exe, data.clone(), 0o755, 0, 0)?;
        for inc in &spec.includes {
            app.file(&inc.dest, inc.data.clone(), inc.mode, 0, 0)?;
        }
        let app = app.build(spec.epoch)?;
        let ip = ImagePlatform::from(*platform);
        let mut ann = labels.clone();
        let app_history = format!(
            "muslrust-chef: {exe} ({} file(s) included)",
            spec.includes.len()
        );
        let (cfg, layers) = match (&spec.base, &builtin_base) {
            (BaseChoice::BuiltIn(_), Some(b)) => (
                config::make_config(
                    &ip,
                    None,
                    &rt,
                    vec![b.diff_id.clone(), app.diff_id.clone()],
                    vec!["muslrust-chef: built-in base (users, CA certificates, /tmp, /home/nonroot)".into(), app_history],
                    &created,
                )?,
                vec![b.blob.clone(), app.blob.clone()],
            ),
            (BaseChoice::Image { name, images }, _) => {
                let base_img = images
                    .images
                    .iter()
                    .find(|i| i.platform.matches(*platform))
                    .expect("checked by check_platforms");
                let base_cfg = base_img.parsed_config()?;
                ann.insert(annotation::BASE_NAME.into(), name.clone());
                ann.insert(annotation::BASE_DIGEST.into(), base_img.manifest.digest.clone());
                let mut layers = base_img.layers.clone();
                layers.push(app.blob.clone());
                (
                    config::make_config(&ip, Some(&base_cfg), &rt, vec![app.diff_id.clone()], vec![app_history], &created)?,
                    layers,
                )
            }
            (BaseChoice::BuiltIn(_), None) => unreachable!("built-in base is built above"),
        };
        let config_blob = Blob::json(super::media::OCI_CONFIG, &cfg);
        let manifest = config::make_manifest(&config_blob, &layers, &ann)?;
        images.push(Image {
            platform: ip,
            manifest,
            config: config_blob,
            layers,
        });
    }
    let index = if images.len() > 1 {
        Some(config::make_index(&images, &labels)?)
    } else {
        None
    };
    Ok(ImageSet { images, index })
}

/// The one binary an image runs: `--bin`, or the project's only one.
pub fn select_bin(project: &Project, bins: &[String]) -> Result<String> {
    if bins.len() > 1 {
        return Err(
            Error::new("an image runs one binary, but several --bin were given")
                .hint("build one image per binary, each with its own --bin"),
        );
    }
    let all = project.select_bins(bins)?;
    if all.len() != 1 {
        let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
        return Err(
            Error::new("an image runs one binary, and this project has several")
                .hint(format!("pick one with --bin ({})", names.join(", "))),
        );
    }
    Ok(all[0].name.clone())
}

/// Builds `bin` with `compiler` for every platform of `req`, checks each
/// binary is static, and assembles the images.
pub fn build_image(
    compiler: &dyn Compiler,
    req: &BuildRequest,
    spec: &ImageSpec,
    reporter: &dyn Reporter,
) -> Result<ImageSet> {
    let bin = select_bin(&req.project, &req.bins)?;
    check_platforms(spec, &req.platforms)?;
    let mut req = req.clone();
    req.bins = vec![bin.clone()];
    let artifacts = compiler.build(&req, reporter)?;
    let mut binaries = Vec::new();
    for &p in &req.platforms {
        let art = artifacts
            .iter()
            .find(|a| a.platform == p && a.bin == bin)
            .ok_or_else(|| Error::new(format!("the build produced no `{bin}` for {p}")))?;
        // The compile stage inspected the binary already; its report is
        // part of the artifact, so check it rather than parse the file again.
        inspect::verify_static(&art.path, &art.report, p)?;
        let data = std::fs::read(&art.path).map_err(|e| Error::io("reading", &art.path, e))?;
        binaries.push((p, data));
    }
    reporter.step(&format!(
        "assembling the image for {}",
        names(&req.platforms)
    ));
    assemble(spec, &bin, &binaries)
}

fn names(ps: &[Platform]) -> String {
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
