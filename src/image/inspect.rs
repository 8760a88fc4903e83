//! What is inside an image (for `muslrust-chef inspect oci:DIR` and
//! `docker-archive:FILE`): platforms, layers with their sizes and file
//! counts, the run config, and warnings for anything surprising (running
//! as root, an entrypoint that is not a static binary for the platform).

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

use super::{Image, ImageSet, annotation};
use crate::error::{Error, Result};
use crate::inspect::{self, BinaryReport};
use crate::platform::Platform;

/// One layer's facts.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub digest: String,
    pub media_type: String,
    /// Compressed size.
    pub size: u64,
    /// Entries that are not directories.
    pub files: usize,
}

/// One platform's facts.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub platform: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<LayerReport>,
    pub total_size: u64,
    pub user: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The entrypoint binary, when found in the layers and an ELF file.
    pub entrypoint_binary: Option<BinaryReport>,
    pub warnings: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct SetReport {
    /// The index digest, for multi-platform images.
    pub index_digest: Option<String>,
    pub images: Vec<ImageReport>,
}

/// Reads a layer's tar (gzip or plain): counts files and, when `want` is
/// given, returns that file's contents (last one wins, as layers stack).
fn scan_layer(data: &[u8], want: Option<&str>) -> Result<(usize, Option<Vec<u8>>)> {
    let reader: Box<dyn Read> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let bad = |e: std::io::Error| Error::new(format!("reading a layer: {e}"));
    let mut ar = tar::Archive::new(reader);
    let mut files = 0;
    let mut found = None;
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        if e.header().entry_type().is_dir() {
            continue;
        }
        files += 1;
        if let Some(w) = want {
            let p = e.path().map_err(bad)?.to_string_lossy().into_owned();
            if p.trim_start_matches("./").trim_start_matches('/') == w.trim_start_matches('/') {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).map_err(bad)?;
                found = Some(buf);
            }
        }
    }
    Ok((files, found))
}

/// Inspects one image.
pub fn inspect_image(img: &Image) -> Result<ImageReport> {
    let cfg = img.parsed_config()?;
    let m = img.parsed_manifest()?;
    let c = cfg.config().clone().unwrap_or_default();
    let entrypoint = c.entrypoint().clone().unwrap_or_default();
    let cmd = c.cmd().clone().unwrap_or_default();
    let exe = entrypoint.first().or(cmd.first()).cloned();
    let mut layers = Vec::new();
    let mut bin_data = None;
    for l in &img.layers {
        let (files, found) = scan_layer(&l.data, exe.as_deref().filter(|e| e.starts_with('/')))?;
        if found.is_some() {
            bin_data = found;
        }
        layers.push(LayerReport {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: l.size(),
            files,
        });
    }
    let mut warnings = Vec::new();
    let user = c.user().clone().filter(|u| !u.is_empty());
    let root = match user.as_deref() {
        None => true,
        Some(u) => {
            let name = u.split(':').next().unwrap_or("");
            name == "root" || name == "0"
        }
    };
    if root {
        warnings.push("runs as root (no User, or User is root/0); use --user 65532:65532".into());
    }
    let entrypoint_binary = match (&exe, bin_data) {
        (Some(e), Some(data)) => match inspect::inspect_bytes(&data) {
            Ok(r) => {
                if !r.is_static {
                    warnings.push(format!(
                        "the entrypoint {e} is not static (needs {:?} {:?})",
                        r.interpreter, r.needed
                    ));
                }
                let want: Option<Platform> =
                    Platform::ALL.into_iter().find(|p| img.platform.matches(*p));
                if want.is_some() && r.platform != want {
                    warnings.push(format!(
                        "the entrypoint {e} is not a {} binary",
                        img.platform
                    ));
                }
                Some(r)
            }
            Err(_) => None,
        },
        (Some(e), None) if e.starts_with('/') => {
            warnings.push(format!("the entrypoint {e} is not in the image's layers"));
            None
        }
        _ => None,
    };
    let mut ports = c.exposed_ports().clone().unwrap_or_default();
    ports.sort();
    Ok(ImageReport {
        platform: img.platform.to_string(),
        manifest_digest: img.manifest.digest.clone(),
        config_digest: img.config.digest.clone(),
        total_size: layers.iter().map(|l| l.size).sum(),
        layers,
        user,
        entrypoint,
        cmd,
        env: c.env().clone().unwrap_or_default(),
        working_dir: c.working_dir().clone(),
        exposed_ports: ports,
        labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
        annotations: m
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        entrypoint_binary,
        warnings,
    })
}

/// Inspects every image of a set.
pub fn inspect_set(set: &ImageSet) -> Result<SetReport> {
    Ok(SetReport {
        index_digest: set.index.as_ref().map(|i| i.digest.clone()),
        images: set
            .images
            .iter()
            .map(inspect_image)
            .collect::<Result<_>>()?,
    })
}

/// The report as text lines.
pub fn describe(r: &SetReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = &r.index_digest {
        out.push(format!("index {d} ({} platforms)", r.images.len()));
    }
    for i in &r.images {
        out.push(format!("{}  manifest {}", i.platform, i.manifest_digest));
        out.push(format!("  config      {}", i.config_digest));
        out.push(format!(
            "  user        {}",
            i.user.as_deref().unwrap_or("(root)")
        ));
        out.push(format!("  entrypoint  {:?}", i.entrypoint));
        if !i.cmd.is_empty() {
            out.push(format!("  cmd         {:?}", i.cmd));
        }
        if let Some(w) = &i.working_dir {
            out.push(format!("  workdir     {w}"));
        }
        for e in &i.env {
            out.push(format!("  env         {e}"));
        }
        if !i.exposed_ports.is_empty() {
            out.push(format!("  expose      {}", i.exposed_ports.join(", ")));
        }
        for key in [
            annotation::VERSION,
            annotation::REVISION,
            annotation::SOURCE,
            annotation::BASE_NAME,
        ] {
            if let Some(v) = i.annotations.get(key).or(i.labels.get(key)) {
                out.push(format!(
                    "  {:<11} {v}",
                    key.rsplit('.').next().unwrap_or(key)
                ));
            }
        }
        out.push(format!(
            "  layers      {} ({} bytes compressed)",
            i.layers.len(),
            i.total_size
        ));
        for l in &i.layers {
            out.push(format!(
                "    {}  {:>9} bytes  {:>5} files",
                l.digest, l.size, l.files
            ));
        }
        if let Some(b) = &i.entrypoint_binary {
            let facts: Vec<String> = inspect::describe(b)
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            out.push(format!("  binary      {}", facts.join("; ")));
        }
        for w in &i.warnings {
            out.push(format!("  warning: {w}"));
        }
    }
    out
}
