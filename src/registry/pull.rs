//! Pulling a base image (`--base REF`) by tag or digest: the index (or a
//! single manifest), the manifest of each wanted platform, its config and
//! layers. Blobs are verified against their digests and cached on disk by
//! digest, so the next build pulls only manifests. The result is an
//! [`ImageSet`] with the base's own media types, ready for the app layer.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::image::{Blob, Image, ImagePlatform, ImageSet, media};
use crate::platform::Platform;

use super::client::Client;
use super::reference::Reference;

/// Where pulled blobs are cached: `<cache>/registry/blobs/sha256/<hex>`.
pub fn blob_cache_dir() -> PathBuf {
    crate::env::cache_dir()
        .join("registry")
        .join("blobs")
        .join("sha256")
}

/// Reads blob `digest` from the cache (if it is there and intact) or
/// pulls it into the cache.
fn cached_blob(
    client: &Client,
    repo: &str,
    digest: &str,
    media_type: &str,
    cache: &Path,
) -> Result<Blob> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| {
        Error::new(format!("unsupported digest {digest}")).hint("only sha256 digests are supported")
    })?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new(format!(
            "malformed digest {digest} in a pulled manifest"
        )));
    }
    let path = cache.join(hex);
    if let Ok(data) = std::fs::read(&path) {
        let blob = Blob::new(media_type, data);
        if blob.digest == digest {
            return Ok(blob);
        }
        // A damaged cache entry: fetch it again.
        let _ = std::fs::remove_file(&path);
    }
    client.get_blob_to(repo, digest, &path)?;
    let data = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
    let blob = Blob::new(media_type, data);
    if blob.digest != digest {
        return Err(Error::new(format!(
            "cached blob {} does not match its digest",
            path.display()
        ))
        .hint("remove the file and retry"));
    }
    Ok(blob)
}

fn platform_of(v: &Value) -> Option<ImagePlatform> {
    Some(ImagePlatform {
        os: v.get("os")?.as_str()?.to_string(),
        architecture: v.get("architecture")?.as_str()?.to_string(),
        variant: v.get("variant").and_then(Value::as_str).map(str::to_string),
    })
}

fn is_index(media_type: &str) -> bool {
    media_type == media::OCI_INDEX || media_type == media::DOCKER_LIST
}

/// Pulls `reference` for `platforms` (all platforms of the index when
/// empty) through `client`.
pub fn pull(client: &Client, reference: &Reference, platforms: &[Platform]) -> Result<ImageSet> {
    pull_with_cache(client, reference, platforms, &blob_cache_dir())
}

/// [`pull`] with an explicit blob cache directory.
pub fn pull_with_cache(
    client: &Client,
    reference: &Reference,
    platforms: &[Platform],
    cache: &Path,
) -> Result<ImageSet> {
    let repo = reference.repository.as_str();
    let top = client.get_manifest(repo, reference.manifest_ref())?;
    let parse = |data: &[u8], what: &str| -> Result<Value> {
        serde_json::from_slice(data).map_err(|e| {
            Error::new(format!("{what} of {reference} is not valid JSON: {e}"))
                .hint("the base must be an OCI or Docker v2 image")
        })
    };
    let top_json = parse(&top.data, "the manifest")?;
    let mut wanted: Vec<(Option<ImagePlatform>, String)> = Vec::new();
    let index = if is_index(&top.media_type) {
        let manifests = top_json
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::new(format!("the index of {reference} lists no manifests")))?;
        let mut available = Vec::new();
        for m in manifests {
            let Some(p) = m.get("platform").and_then(platform_of) else {
                continue;
            };
            let Some(d) = m.get("digest").and_then(Value::as_str) else {
                continue;
            };
            available.push(p.to_string());
            if p.os == "unknown" {
                continue; // attestation manifests
            }
            let pick = if platforms.is_empty() {
                true
            } else {
                platforms.iter().any(|&q| p.matches(q))
            };
            if pick && !wanted.iter().any(|(w, _)| w.as_ref() == Some(&p)) {
                wanted.push((Some(p), d.to_string()));
            }
        }
        for &q in platforms {
            if !wanted
                .iter()
                .any(|(w, _)| w.as_ref().is_some_and(|w| w.matches(q)))
            {
                return Err(Error::new(format!(
                    "the base {reference} has no {q} image (it has: {})",
                    available.join(", ")
                ))
                .hint("choose platforms the base provides with --platform, or another base"));
            }
        }
        Some(Blob::new(top.media_type.clone(), top.data.clone()))
    } else {
        wanted.push((None, top.digest.clone()));
        None
    };

    let mut images = Vec::new();
    for (platform, digest) in wanted {
        let fetched = if digest == top.digest && index.is_none() {
            top.clone()
        } else {
            client.get_manifest(repo, &digest)?
        };
        let m = parse(&fetched.data, "a platform manifest")?;
        let config_desc = m
            .get("config")
            .ok_or_else(|| Error::new(format!("a manifest of {reference} has no config")))?;
        let desc = |d: &Value| -> Result<(String, String)> {
            let digest = d.get("digest").and_then(Value::as_str);
            let mt = d.get("mediaType").and_then(Value::as_str);
            match (digest, mt) {
                (Some(dg), Some(mt)) => Ok((dg.to_string(), mt.to_string())),
                _ => Err(Error::new(format!(
                    "a descriptor in {reference} lacks a digest or media type"
                ))),
            }
        };
        let (cd, cmt) = desc(config_desc)?;
        let config = cached_blob(client, repo, &cd, &cmt, cache)?;
        let mut layers = Vec::new();
        for l in m
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (ld, lmt) = desc(l)?;
            layers.push(cached_blob(client, repo, &ld, &lmt, cache)?);
        }
        let config_json = parse(&config.data, "the config")?;
        let platform = match platform {
            Some(p) => p,
            None => platform_of(&config_json).ok_or_else(|| {
                Error::new(format!(
                    "the config of {reference} names no os/architecture"
                ))
            })?,
        };
        if index.is_none()
            && !platforms.is_empty()
            && !platforms.iter().any(|&q| platform.matches(q))
        {
            return Err(Error::new(format!(
                "the base {reference} is a single {platform} image"
            ))
            .hint("choose that platform with --platform, or a base with an index for every platform"));
        }
        images.push(Image {
            platform,
            manifest: Blob::new(fetched.media_type.clone(), fetched.data),
            config,
            layers,
        });
    }
    Ok(ImageSet { images, index })
}
