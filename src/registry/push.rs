//! Pushing an [`ImageSet`] so that no reference ever points at something
//! half uploaded: every blob first (skipping those the registry has,
//! mounting from a base repository in the same registry when possible),
//! then each platform manifest by digest, then the index by digest, and
//! the tags last. A failure at any step leaves the tags untouched.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::image::{Blob, ImageSet};

use super::client::{Client, Mount};
use super::reference::Reference;

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobAction {
    /// Uploaded.
    Pushed,
    /// Already in the repository (HEAD said so).
    Skipped,
    /// Linked from another repository of the same registry.
    Mounted,
}

/// One blob's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct BlobOutcome {
    pub digest: String,
    pub size: u64,
    pub action: BlobAction,
}

/// The result of a push (`--message-format json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// `registry/repository`.
    pub repository: String,
    /// The digest the references point at (index or manifest).
    pub digest: String,
    /// `REF@sha256:...`, one per tag (or the bare digest reference).
    pub references: Vec<String>,
    pub blobs: Vec<BlobOutcome>,
    pub blobs_pushed: usize,
    pub blobs_skipped: usize,
    pub blobs_mounted: usize,
    /// Blob payload bytes sent, retries included.
    pub bytes_sent: u64,
    /// Manifests and indexes written (by digest and by tag).
    pub manifests_put: usize,
    pub seconds: f64,
}

impl PushReport {
    /// One human line: `pushed N, skipped N, mounted N blobs; X sent in Ys`.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} blobs pushed, {} skipped, {} mounted; {} sent in {:.1}s",
            self.repository,
            self.blobs_pushed,
            self.blobs_skipped,
            self.blobs_mounted,
            human_bytes(self.bytes_sent),
            self.seconds
        )
    }
}

/// `1.2 MB`-style sizes for summary lines.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Receives per-blob progress (the CLI draws bars with it).
pub trait PushProgress: Sync {
    /// A blob starts uploading.
    fn start(&self, _digest: &str, _size: u64) {}
    /// `n` more bytes of `digest` went out.
    fn advance(&self, _digest: &str, _n: u64) {}
    /// `digest` is in the registry.
    fn finish(&self, _digest: &str, _action: BlobAction) {}
}

/// Progress that is dropped.
pub struct NoProgress;
impl PushProgress for NoProgress {}

/// What to push where.
pub struct PushRequest<'a> {
    /// The repository (its tag and digest are ignored; see `tags`).
    pub target: &'a Reference,
    pub images: &'a ImageSet,
    /// Tags to point at the pushed image; empty = push by digest only.
    pub tags: Vec<String>,
    /// Repositories in the same registry to mount missing blobs from.
    pub mount_from: Vec<String>,
    /// Blobs uploaded at the same time.
    pub parallel: usize,
}

/// Pushes `req.images` through `client` (already authenticated for push,
/// and pull on the mount sources).
pub fn push(client: &Client, req: &PushRequest, progress: &dyn PushProgress) -> Result<PushReport> {
    let started = Instant::now();
    let sent_before = client.bytes_sent();
    let repo = req.target.repository.as_str();
    // Layers and configs, each once.
    let mut blobs: BTreeMap<&str, &Blob> = BTreeMap::new();
    for img in &req.images.images {
        for b in img.layers.iter().chain([&img.config]) {
            blobs.insert(&b.digest, b);
        }
    }
    // Largest first, so the long uploads start early.
    let mut queue: Vec<&Blob> = blobs.into_values().collect();
    queue.sort_by(|a, b| b.size().cmp(&a.size()).then(a.digest.cmp(&b.digest)));
    let queue = Mutex::new(queue.into_iter());
    let outcomes: Mutex<Vec<BlobOutcome>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<crate::error::Error>> = Mutex::new(None);
    let workers = req.parallel.clamp(1, 8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    if first_error.lock().unwrap().is_some() {
                        return;
                    }
                    let Some(blob) = queue.lock().unwrap().next() else {
                        return;
                    };
                    match push_blob(client, repo, blob, &req.mount_from, progress) {
                        Ok(action) => {
                            progress.finish(&blob.digest, action);
                            outcomes.lock().unwrap().push(BlobOutcome {
                                digest: blob.digest.clone(),
                                size: blob.size(),
                                action,
                            });
                        }
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.digest.cmp(&b.digest));

    // Manifests by digest, then the index, then the tags.
    let mut manifests_put = 0;
    for img in &req.images.images {
        let m = &img.manifest;
        client.put_manifest(repo, &m.digest, &m.media_type, &m.data)?;
        manifests_put += 1;
    }
    let top = req.images.top();
    if let Some(index) = &req.images.index {
        client.put_manifest(repo, &index.digest, &index.media_type, &index.data)?;
        manifests_put += 1;
    }
    let mut references = Vec::new();
    for tag in &req.tags {
        client.put_manifest(repo, tag, &top.media_type, &top.data)?;
        manifests_put += 1;
        references.push(format!("{}@{}", req.target.with_tag(tag), top.digest));
    }
    if req.tags.is_empty() {
        references.push(req.target.with_digest(&top.digest).to_string());
    }
    let count = |a: BlobAction| outcomes.iter().filter(|o| o.action == a).count();
    Ok(PushReport {
        repository: req.target.repo_name(),
        digest: top.digest.clone(),
        references,
        blobs_pushed: count(BlobAction::Pushed),
        blobs_skipped: count(BlobAction::Skipped),
        blobs_mounted: count(BlobAction::Mounted),
        blobs: outcomes,
        bytes_sent: client.bytes_sent() - sent_before,
        manifests_put,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn push_blob(
    client: &Client,
    repo: &str,
    blob: &Blob,
    mount_from: &[String],
    progress: &dyn PushProgress,
) -> Result<BlobAction> {
    if client.blob_exists(repo, &blob.digest)? {
        return Ok(BlobAction::Skipped);
    }
    // Try the first mount source; a miss opens an upload session we use.
    let mut session = None;
    if let Some(from) = mount_from.iter().find(|f| f.as_str() != repo) {
        match client.mount_blob(repo, &blob.digest, from)? {
            Mount::Mounted => return Ok(BlobAction::Mounted),
            Mount::Upload(loc) => session = Some(loc),
        }
    }
    progress.start(&blob.digest, blob.size());
    let advance = |n: u64| progress.advance(&blob.digest, n);
    client.upload_blob(repo, &blob.digest, &blob.data, session, &advance)?;
    Ok(BlobAction::Pushed)
}
