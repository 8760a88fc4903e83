//! OCI image assembly without Docker: the built-in base root filesystem,
//! deterministic layers, the config, one manifest per platform and an
//! index over platforms. Everything here is plain data in memory (blobs
//! with their digests); `crate::output` decides where it goes.
//!
//! Reproducibility is the invariant: the same inputs give byte-identical
//! blobs, so every JSON document is written with sorted keys
//! ([`canonical_json`]) and every layer through [`layer::LayerBuilder`].

pub mod assemble;
pub mod base;
pub mod config;
pub mod inspect;
pub mod layer;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use oci_spec::image::{ImageConfiguration, ImageManifest};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::platform::Platform;

pub use assemble::{BaseChoice, ImageSpec, Include, Metadata, assemble, build_image};

/// OCI media types we write (and the Docker ones we accept when reading).
pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// OCI annotation keys we fill.
pub mod annotation {
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    pub const CREATED: &str = "org.opencontainers.image.created";
    pub const SOURCE: &str = "org.opencontainers.image.source";
    pub const REVISION: &str = "org.opencontainers.image.revision";
    pub const VERSION: &str = "org.opencontainers.image.version";
    pub const TITLE: &str = "org.opencontainers.image.title";
    pub const DESCRIPTION: &str = "org.opencontainers.image.description";
    pub const LICENSES: &str = "org.opencontainers.image.licenses";
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
}

/// A content-addressed blob held in memory (layers of a static image are
/// small: the binary plus a few hundred KB).
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    pub data: Arc<[u8]>,
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("media_type", &self.media_type)
            .field("digest", &self.digest)
            .field("size", &self.data.len())
            .finish()
    }
}

impl Blob {
    /// A blob of `data`, digested now.
    pub fn new(media_type: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Blob {
        let data = data.into();
        Blob {
            media_type: media_type.into(),
            digest: sha256_digest(&data),
            data,
        }
    }

    /// A JSON document with sorted keys.
    pub fn json<T: Serialize>(media_type: &str, value: &T) -> Blob {
        Blob::new(media_type, canonical_json(value))
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// The hex part of the digest (the file name under `blobs/sha256/`).
    pub fn hex(&self) -> &str {
        digest_hex(&self.digest)
    }

    /// A descriptor for this blob.
    pub fn descriptor(&self) -> oci_spec::image::Descriptor {
        oci_spec::image::Descriptor::new(
            self.media_type.as_str().into(),
            self.size(),
            oci_spec::image::Digest::try_from(self.digest.as_str()).expect("sha256 digests parse"),
        )
    }
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The hex part of `sha256:<hex>`.
pub fn digest_hex(digest: &str) -> &str {
    digest.split_once(':').map(|(_, h)| h).unwrap_or(digest)
}

/// Serializes `value` as compact JSON with every object's keys sorted, so
/// maps held in hash tables (annotations, labels, exposed ports) do not
/// change a digest from one run to the next.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let sorted: BTreeMap<String, serde_json::Value> =
                    map.into_iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(sort).collect())
            }
            other => other,
        }
    }
    let v = sort(serde_json::to_value(value).expect("image documents serialize"));
    serde_json::to_vec(&v).expect("JSON values serialize")
}

/// The platform an image runs on, as OCI names it (images read back from
/// disk may name platforms we do not build for).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ImagePlatform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl ImagePlatform {
    /// Whether this is `p` (a missing variant matches arm64's `v8`).
    pub fn matches(&self, p: Platform) -> bool {
        self.os == p.oci_os()
            && self.architecture == p.oci_arch()
            && (self.variant.is_none()
                || p.oci_variant().is_none()
                || self.variant.as_deref() == p.oci_variant())
    }

    /// The OCI descriptor form.
    pub fn to_oci(&self) -> oci_spec::image::Platform {
        let mut b = oci_spec::image::PlatformBuilder::default()
            .os(self.os.as_str())
            .architecture(self.architecture.as_str());
        if let Some(v) = &self.variant {
            b = b.variant(v.clone());
        }
        b.build().expect("os and architecture are set")
    }
}

impl From<Platform> for ImagePlatform {
    fn from(p: Platform) -> Self {
        ImagePlatform {
            os: p.oci_os().into(),
            architecture: p.oci_arch().into(),
            variant: p.oci_variant().map(str::to_string),
        }
    }
}

impl fmt::Display for ImagePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One single-platform image: its manifest, config and layers (base first).
#[derive(Debug, Clone)]
pub struct Image {
    pub platform: ImagePlatform,
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Image {
    /// The manifest, parsed.
    pub fn parsed_manifest(&self) -> Result<ImageManifest> {
        serde_json::from_slice(&self.manifest.data).map_err(|e| {
            Error::new(format!(
                "malformed image manifest {}: {e}",
                self.manifest.digest
            ))
        })
    }

    /// The config, parsed.
    pub fn parsed_config(&self) -> Result<ImageConfiguration> {
        serde_json::from_slice(&self.config.data).map_err(|e| {
            Error::new(format!(
                "malformed image config {}: {e}",
                self.config.digest
            ))
        })
    }
}

/// What a build produces and a sink writes: one image per platform and,
/// for several platforms, an image index over them.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub images: Vec<Image>,
    pub index: Option<Blob>,
}

impl ImageSet {
    /// The blob a reference points at: the index, or the only manifest.
    pub fn top(&self) -> &Blob {
        match &self.index {
            Some(i) => i,
            None => &self.images[0].manifest,
        }
    }

    /// Every blob (layers, configs, manifests, index), each once, sorted by
    /// digest so writers are deterministic.
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut map: BTreeMap<&str, &Blob> = BTreeMap::new();
        for img in &self.images {
            for b in img.layers.iter().chain([&img.config, &img.manifest]) {
                map.insert(&b.digest, b);
            }
        }
        if let Some(i) = &self.index {
            map.insert(&i.digest, i);
        }
        map.into_values().collect()
    }
}
