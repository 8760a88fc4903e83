//! The OCI image layout sink (`oci:DIR`) and its reader. A layout is a
//! directory with `oci-layout`, `index.json` naming each tag with
//! `org.opencontainers.image.ref.name`, and `blobs/sha256/<hex>`; skopeo,
//! umoci, crane, containerd and registries all read it.
//!
//! [`read_layout`] loads an image back (for `--base oci:DIR` and
//! `inspect`), verifying every blob's digest; the registry pull mirrors it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, ImageManifest};

use super::{Sink, SinkOptions, check_free, parent_dir};
use crate::error::{Error, Result};
use crate::image::{Blob, Image, ImagePlatform, ImageSet, annotation, canonical_json, media};
use crate::reporter::Reporter;

/// Writes an OCI layout directory.
pub struct OciLayoutSink {
    dir: PathBuf,
    opts: SinkOptions,
}

impl OciLayoutSink {
    pub fn new(dir: PathBuf, opts: SinkOptions) -> Self {
        OciLayoutSink { dir, opts }
    }
}

/// Writes `images` as a layout into the (new, empty) directory `dir`.
pub fn write_layout_into(dir: &Path, images: &ImageSet, tags: &[String]) -> Result<()> {
    let io = |what: &Path, e: std::io::Error| Error::io("writing", what, e);
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| io(&blobs, e))?;
    let layout = dir.join("oci-layout");
    std::fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(|e| io(&layout, e))?;
    for b in images.blobs() {
        let p = blobs.join(b.hex());
        std::fs::write(&p, &b.data).map_err(|e| io(&p, e))?;
    }
    let top = images.top();
    let mut manifests = Vec::new();
    let names: Vec<Option<&String>> = if tags.is_empty() {
        vec![None]
    } else {
        tags.iter().map(Some).collect()
    };
    for t in names {
        let mut d = top.descriptor();
        if images.index.is_none() {
            d.set_platform(Some(images.images[0].platform.to_oci()));
        }
        if let Some(t) = t {
            d.set_annotations(Some(
                [(annotation::REF_NAME.to_string(), t.clone())]
                    .into_iter()
                    .collect(),
            ));
        }
        manifests.push(d);
    }
    let index = oci_spec::image::ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(media::OCI_INDEX)
        .manifests(manifests)
        .build()
        .map_err(|e| Error::new(format!("building index.json: {e}")))?;
    let p = dir.join("index.json");
    std::fs::write(&p, canonical_json(&index)).map_err(|e| io(&p, e))?;
    Ok(())
}

/// Moves the finished `staged` path to `target`, replacing what is there
/// (only reached with `--force` or when nothing is there).
pub(crate) fn replace(staged: &Path, target: &Path) -> Result<()> {
    if std::fs::symlink_metadata(target).is_ok() {
        let parent = target.parent().unwrap_or(Path::new("."));
        let old = tempfile::Builder::new()
            .prefix(".muslrust-chef-old-")
            .tempdir_in(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            })
            .map_err(|e| Error::io("creating a directory in", parent, e))?;
        let aside = old.path().join("old");
        std::fs::rename(target, &aside).map_err(|e| Error::io("moving aside", target, e))?;
        std::fs::rename(staged, target).map_err(|e| Error::io("renaming into", target, e))?;
        drop(old); // removes the previous output
        return Ok(());
    }
    std::fs::rename(staged, target).map_err(|e| Error::io("renaming into", target, e))
}

impl Sink for OciLayoutSink {
    fn preflight(&self, _platforms: usize) -> Result<()> {
        check_free(&self.dir, self.opts.force)?;
        parent_dir(&self.dir).map(|_| ())
    }

    fn write(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>> {
        self.preflight(images.images.len())?;
        let parent = parent_dir(&self.dir)?;
        reporter.step(&format!("writing OCI layout {}", self.dir.display()));
        let staging = tempfile::Builder::new()
            .prefix(".muslrust-chef-")
            .tempdir_in(&parent)
            .map_err(|e| Error::io("creating a directory in", &parent, e))?;
        write_layout_into(staging.path(), images, tags)?;
        let staged = staging.keep();
        replace(&staged, &self.dir).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&staged);
        })?;
        let top = &images.top().digest;
        Ok(if tags.is_empty() {
            vec![format!("{top} oci:{}", self.dir.display())]
        } else {
            tags.iter()
                .map(|t| format!("{top} oci:{}:{t}", self.dir.display()))
                .collect()
        })
    }
}

/// A layout's image as read back, with the name it was found under.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub images: ImageSet,
    /// The `ref.name` of the chosen index.json entry, if it had one.
    pub ref_name: Option<String>,
}

/// Splits `DIR[:REF]` (the part after `oci:`): a path that exists as a
/// directory is taken whole.
pub fn split_dir_ref(spec: &str) -> (PathBuf, Option<String>) {
    if Path::new(spec).is_dir() {
        return (spec.into(), None);
    }
    match spec.rsplit_once(':') {
        Some((d, r)) if Path::new(d).is_dir() && !r.contains('/') => {
            (d.into(), Some(r.to_string()))
        }
        _ => (spec.into(), None),
    }
}

fn read_blob(dir: &Path, digest: &str, media_type: &str) -> Result<Blob> {
    let (alg, hex) = digest.split_once(':').unwrap_or(("", digest));
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::new(format!(
            "unsupported digest `{digest}` in {}",
            dir.display()
        )));
    }
    let p = dir.join("blobs").join(alg).join(hex);
    let data = std::fs::read(&p).map_err(|e| {
        Error::io("reading", &p, e)
            .hint("the layout is incomplete; write it again or copy it with `skopeo copy`")
    })?;
    let b = Blob::new(media_type, data);
    if b.digest != digest {
        return Err(Error::new(format!(
            "{} does not match its digest {digest}",
            p.display()
        ))
        .hint("the layout is corrupt; write it again"));
    }
    Ok(b)
}

fn parse<T: serde::de::DeserializeOwned>(b: &Blob, what: &str) -> Result<T> {
    serde_json::from_slice(&b.data)
        .map_err(|e| Error::new(format!("malformed {what} {}: {e}", b.digest)))
}

/// Reads one manifest (and its config and layers) from a layout.
pub fn read_manifest(dir: &Path, manifest: Blob) -> Result<Image> {
    let m: ImageManifest = parse(&manifest, "image manifest")?;
    let config = read_blob(
        dir,
        m.config().digest().as_ref(),
        m.config().media_type().as_ref(),
    )?;
    let cfg: oci_spec::image::ImageConfiguration = parse(&config, "image config")?;
    let mut layers = Vec::new();
    for l in m.layers() {
        layers.push(read_blob(
            dir,
            l.digest().as_ref(),
            l.media_type().as_ref(),
        )?);
    }
    Ok(Image {
        platform: ImagePlatform {
            os: cfg.os().to_string(),
            architecture: cfg.architecture().to_string(),
            variant: cfg.variant().clone(),
        },
        manifest,
        config,
        layers,
    })
}

/// Reads the image (or index of images) stored in the layout at `dir`
/// under `ref_name`, or its only image when `ref_name` is None.
pub fn read_layout(dir: &Path, ref_name: Option<&str>) -> Result<LoadedImage> {
    let index_path = dir.join("index.json");
    let data = std::fs::read(&index_path).map_err(|e| {
        Error::io("reading", &index_path, e).hint(format!(
            "{} is not an OCI image layout (write one with --output oci:DIR)",
            dir.display()
        ))
    })?;
    let index: ImageIndex = serde_json::from_slice(&data)
        .map_err(|e| Error::new(format!("malformed {}: {e}", index_path.display())))?;
    let entries = index.manifests();
    let name_of = |d: &oci_spec::image::Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(annotation::REF_NAME).cloned())
    };
    let chosen: Vec<&oci_spec::image::Descriptor> = match ref_name {
        Some(r) => entries
            .iter()
            .filter(|d| {
                name_of(d)
                    .is_some_and(|n| n == r || n.rsplit_once(':').is_some_and(|(_, t)| t == r))
            })
            .collect(),
        None => entries.iter().collect(),
    };
    let distinct: BTreeMap<String, &oci_spec::image::Descriptor> = chosen
        .iter()
        .map(|d| (d.digest().to_string(), *d))
        .collect();
    let desc = match distinct.len() {
        1 => *distinct.values().next().expect("one"),
        0 => {
            let names: Vec<String> = entries.iter().filter_map(name_of).collect();
            return Err(Error::new(match ref_name {
                Some(r) => format!("{} has no image named `{r}`", dir.display()),
                None => format!("{} holds no image", dir.display()),
            })
            .hint(if names.is_empty() {
                "write an image into it first".to_string()
            } else {
                format!("names in it: {}", names.join(", "))
            }));
        }
        _ => {
            let names: Vec<String> = entries.iter().filter_map(name_of).collect();
            return Err(
                Error::new(format!("{} holds several images", dir.display())).hint(format!(
                    "pick one with oci:{}:NAME (names: {})",
                    dir.display(),
                    names.join(", ")
                )),
            );
        }
    };
    let ref_name = name_of(desc);
    let mt = desc.media_type().to_string();
    let top = read_blob(dir, desc.digest().as_ref(), &mt)?;
    if mt == media::OCI_INDEX || mt == media::DOCKER_LIST {
        let idx: ImageIndex = parse(&top, "image index")?;
        let mut images = Vec::new();
        for d in idx.manifests() {
            // Skip attestation manifests (BuildKit marks them unknown/unknown).
            if d.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == "unknown")
            {
                continue;
            }
            let m = read_blob(dir, d.digest().as_ref(), d.media_type().as_ref())?;
            images.push(read_manifest(dir, m)?);
        }
        if images.is_empty() {
            return Err(Error::new(format!(
                "the index in {} lists no image",
                dir.display()
            )));
        }
        Ok(LoadedImage {
            images: ImageSet {
                images,
                index: Some(top),
            },
            ref_name,
        })
    } else if mt == media::OCI_MANIFEST || mt == media::DOCKER_MANIFEST {
        let img = read_manifest(dir, top)?;
        Ok(LoadedImage {
            images: ImageSet {
                images: vec![img],
                index: None,
            },
            ref_name,
        })
    } else {
        Err(Error::new(format!(
            "{}: unsupported media type {mt}",
            dir.display()
        )))
    }
}
