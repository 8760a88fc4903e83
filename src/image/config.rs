//! The JSON documents of an image: the config (how to run it, which
//! layers), the manifest (config + layers by digest) and the index (one
//! manifest per platform). Built with `oci-spec`'s types and written with
//! sorted keys (see [`super::canonical_json`]).

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{
    ConfigBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, RootFsBuilder,
};

use super::{Blob, Image, ImagePlatform, media};
use crate::error::{Error, Result};

/// How the container runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub user: String,
    /// `KEY=VALUE`, in order; a later key replaces an earlier one.
    pub env: Vec<(String, String)>,
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// `PORT/PROTO`.
    pub exposed_ports: Vec<String>,
}

/// Merges `KEY=VALUE` lists: `over` replaces keys of `base`, order kept.
pub fn merge_env(base: &[String], over: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<(String, String)> = base
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    for (k, v) in over {
        match out.iter_mut().find(|(ek, _)| ek == k) {
            Some(e) => e.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

fn oci_err(e: oci_spec::OciSpecError) -> Error {
    Error::new(format!("building an image document: {e}"))
}

/// The config for one platform. With a `base` config, its environment,
/// labels, ports, layers and history are kept and ours added on top.
pub fn make_config(
    platform: &ImagePlatform,
    base: Option<&ImageConfiguration>,
    rt: &RuntimeConfig,
    diff_ids: Vec<String>,
    history: Vec<String>,
    created: &str,
) -> Result<ImageConfiguration> {
    let base_cfg = base.and_then(|b| b.config().clone());
    let base_env = base_cfg
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    let mut labels: BTreeMap<String, String> = base_cfg
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default();
    labels.extend(rt.labels.clone());
    let mut ports: Vec<String> = base_cfg
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default();
    ports.extend(rt.exposed_ports.iter().cloned());
    ports.sort();
    ports.dedup();
    let mut cfg = ConfigBuilder::default()
        .user(rt.user.clone())
        .env(merge_env(&base_env, &rt.env))
        .entrypoint(rt.entrypoint.clone())
        .working_dir(rt.working_dir.clone());
    if !labels.is_empty() {
        cfg = cfg.labels(labels.into_iter().collect::<HashMap<_, _>>());
    }
    if !ports.is_empty() {
        cfg = cfg.exposed_ports(ports);
    }
    if let Some(sig) = base_cfg.as_ref().and_then(|c| c.stop_signal().clone()) {
        cfg = cfg.stop_signal(sig);
    }
    let mut all_diff_ids: Vec<String> = base
        .map(|b| b.rootfs().diff_ids().clone())
        .unwrap_or_default();
    all_diff_ids.extend(diff_ids);
    let mut hist = base.and_then(|b| b.history().clone()).unwrap_or_default();
    for h in history {
        hist.push(
            HistoryBuilder::default()
                .created(created.to_string())
                .created_by(h)
                .build()
                .map_err(oci_err)?,
        );
    }
    let mut b = ImageConfigurationBuilder::default()
        .created(created.to_string())
        .architecture(platform.architecture.as_str())
        .os(platform.os.as_str())
        .config(cfg.build().map_err(oci_err)?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(all_diff_ids)
                .build()
                .map_err(oci_err)?,
        )
        .history(hist);
    if let Some(v) = &platform.variant {
        b = b.variant(v.clone());
    }
    b.build().map_err(oci_err)
}

fn annotations(a: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!a.is_empty()).then(|| a.clone().into_iter().collect())
}

/// The manifest over `config` and `layers`.
pub fn make_manifest(
    config: &Blob,
    layers: &[Blob],
    ann: &BTreeMap<String, String>,
) -> Result<Blob> {
    let mut b = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(media::OCI_MANIFEST)
        .config(config.descriptor())
        .layers(layers.iter().map(Blob::descriptor).collect::<Vec<_>>());
    if let Some(a) = annotations(ann) {
        b = b.annotations(a);
    }
    Ok(Blob::json(
        media::OCI_MANIFEST,
        &b.build().map_err(oci_err)?,
    ))
}

/// The index over one manifest per platform (in the given order).
pub fn make_index(images: &[Image], ann: &BTreeMap<String, String>) -> Result<Blob> {
    let manifests = images
        .iter()
        .map(|img| {
            let mut d = img.manifest.descriptor();
            d.set_platform(Some(img.platform.to_oci()));
            d
        })
        .collect::<Vec<_>>();
    let mut b = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(media::OCI_INDEX)
        .manifests(manifests);
    if let Some(a) = annotations(ann) {
        b = b.annotations(a);
    }
    Ok(Blob::json(media::OCI_INDEX, &b.build().map_err(oci_err)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merges_by_key() {
        let base = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        let over = vec![
            ("PATH".into(), "/usr/local/bin".into()),
            ("B".into(), "2".into()),
        ];
        assert_eq!(
            merge_env(&base, &over),
            vec!["PATH=/usr/local/bin", "A=1", "B=2"]
        );
    }
}
