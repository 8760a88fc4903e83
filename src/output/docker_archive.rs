//! The `docker load` archive sink (`docker-archive:FILE`) and its reader.
//! The archive is a tar holding `manifest.json` (config path, repo tags,
//! layer paths) and the blobs under `blobs/sha256/`, the layout Docker
//! itself writes since 25.0; older daemons and skopeo read it too. Layers
//! stay gzip-compressed (Docker decompresses them on load).
//!
//! It holds one platform: Docker's archive has no index, so several
//! platforms are refused with a pointer to `oci:`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Sink, SinkOptions, check_free, parent_dir};
use crate::error::{Error, Result};
use crate::image::{Blob, Image, ImagePlatform, ImageSet, canonical_json, config, media};
use crate::reporter::Reporter;

/// Writes a docker archive file.
pub struct DockerArchiveSink {
    file: PathBuf,
    opts: SinkOptions,
}

impl DockerArchiveSink {
    pub fn new(file: PathBuf, opts: SinkOptions) -> Self {
        DockerArchiveSink { file, opts }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The single image of `images`, or the error for several platforms.
pub fn single_image(images: &ImageSet) -> Result<&Image> {
    match images.images.as_slice() {
        [one] => Ok(one),
        many => {
            let names: Vec<String> = many.iter().map(|i| i.platform.to_string()).collect();
            Err(Error::new(format!(
                "a docker archive holds one platform, but {} were built ({})",
                many.len(),
                names.join(", ")
            ))
            .hint("use --output oci:DIR for a multi-platform image, or pick one with --platform"))
        }
    }
}

/// Writes the archive of `images` (one platform) to `w`: sorted entries,
/// fixed owners, modes and times, so the same image gives the same bytes.
pub fn write_archive<W: Write>(w: W, images: &ImageSet, tags: &[String]) -> Result<W> {
    let img = single_image(images)?;
    let path = |b: &Blob| format!("blobs/sha256/{}", b.hex());
    let manifest = vec![ArchiveEntry {
        config: path(&img.config),
        repo_tags: Some(tags.to_vec()),
        layers: img.layers.iter().map(path).collect(),
    }];
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    let manifest_json = canonical_json(&manifest);
    files.insert("manifest.json".into(), &manifest_json);
    for b in img.layers.iter().chain([&img.config]) {
        files.insert(path(b), &b.data);
    }
    let io = |e: std::io::Error| Error::new(format!("writing the docker archive: {e}"));
    let mut t = tar::Builder::new(w);
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_size(0);
        t.append_data(&mut h, dir, std::io::empty()).map_err(io)?;
    }
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        t.append_data(&mut h, name, data).map_err(io)?;
    }
    t.into_inner().map_err(io)
}

impl Sink for DockerArchiveSink {
    fn preflight(&self, platforms: usize) -> Result<()> {
        if platforms > 1 {
            return Err(Error::new(format!(
                "a docker archive holds one platform, but {platforms} were asked for"
            ))
            .hint("use --output oci:DIR for a multi-platform image, or pick one with --platform"));
        }
        check_free(&self.file, self.opts.force)?;
        parent_dir(&self.file).map(|_| ())
    }

    fn write(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>> {
        self.preflight(images.images.len())?;
        let img = single_image(images)?;
        let parent = parent_dir(&self.file)?;
        reporter.step(&format!("writing docker archive {}", self.file.display()));
        let tmp = tempfile::Builder::new()
            .prefix(".muslrust-chef-")
            .tempfile_in(&parent)
            .map_err(|e| Error::io("creating a file in", &parent, e))?;
        let f = write_archive(std::io::BufWriter::new(tmp.as_file()), images, tags)?;
        f.into_inner()
            .map_err(|e| Error::new(format!("writing {}: {e}", self.file.display())))?
            .sync_all()
            .map_err(|e| Error::io("writing", &self.file, e))?;
        if self.opts.force && self.file.is_dir() {
            return Err(
                Error::new(format!("{} is a directory", self.file.display()))
                    .hint("docker-archive: takes a file path"),
            );
        }
        tmp.persist(&self.file)
            .map_err(|e| Error::io("writing", &self.file, e.error))?;
        let id = &img.config.digest;
        Ok(if tags.is_empty() {
            vec![format!("{id} docker-archive:{}", self.file.display())]
        } else {
            tags.iter()
                .map(|t| format!("{id} docker-archive:{}:{t}", self.file.display()))
                .collect()
        })
    }
}

/// An image read back from a docker archive (its first image), with a
/// manifest made up from the archive's layer list, and its repo tags.
pub fn read_archive(file: &Path) -> Result<(ImageSet, Vec<String>)> {
    let f = std::fs::File::open(file).map_err(|e| {
        Error::io("reading", file, e)
            .hint("pass a file written by --output docker-archive:FILE or `docker save`")
    })?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let bad = |e: std::io::Error| {
        Error::new(format!(
            "{} is not a readable tar archive: {e}",
            file.display()
        ))
    };
    let mut ar = tar::Archive::new(f);
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()
            .map_err(bad)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(bad)?;
        files.insert(name, data);
    }
    let manifest = files.get("manifest.json").ok_or_else(|| {
        Error::new(format!("{} has no manifest.json", file.display()))
            .hint("this is not a docker archive")
    })?;
    let entries: Vec<ArchiveEntry> = serde_json::from_slice(manifest).map_err(|e| {
        Error::new(format!(
            "malformed manifest.json in {}: {e}",
            file.display()
        ))
    })?;
    let entry = entries
        .first()
        .ok_or_else(|| Error::new(format!("{} holds no image", file.display())))?;
    let get = |p: &str| {
        files
            .get(p.trim_start_matches("./"))
            .cloned()
            .ok_or_else(|| {
                Error::new(format!(
                    "{} lists {p} but does not contain it",
                    file.display()
                ))
                .hint("the archive is incomplete")
            })
    };
    let config = Blob::new(media::OCI_CONFIG, get(&entry.config)?);
    let cfg: oci_spec::image::ImageConfiguration = serde_json::from_slice(&config.data)
        .map_err(|e| Error::new(format!("malformed image config in {}: {e}", file.display())))?;
    let mut layers = Vec::new();
    for l in &entry.layers {
        let data = get(l)?;
        let mt = if data.starts_with(&[0x1f, 0x8b]) {
            media::OCI_LAYER_GZIP
        } else {
            media::OCI_LAYER_TAR
        };
        layers.push(Blob::new(mt, data));
    }
    let manifest = config::make_manifest(&config, &layers, &BTreeMap::new())?;
    let img = Image {
        platform: ImagePlatform {
            os: cfg.os().to_string(),
            architecture: cfg.architecture().to_string(),
            variant: cfg.variant().clone(),
        },
        manifest,
        config,
        layers,
    };
    Ok((
        ImageSet {
            images: vec![img],
            index: None,
        },
        entry.repo_tags.clone().unwrap_or_default(),
    ))
}
