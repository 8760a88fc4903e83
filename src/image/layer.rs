//! Deterministic layers: a tar stream built from an in-memory file tree
//! (never from the host's metadata), entries sorted by path, owners, modes
//! and times fixed, no extended attributes, then gzip with a fixed header
//! (no name, mtime 0, OS "unknown") and a fixed level. The same tree gives
//! the same bytes, hence the same digest, on any machine and any day.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use flate2::{Compression, GzBuilder};

use super::{Blob, media, sha256_digest};
use crate::error::{Error, Result};

/// The gzip level for layers: fixed, so digests do not depend on a default.
pub const GZIP_LEVEL: u32 = 6;

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File(Arc<[u8]>),
    Symlink(String),
}

#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
}

/// A file tree to turn into a layer. Paths are relative to `/`; missing
/// parent directories are added as root-owned 0755.
#[derive(Debug, Clone, Default)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
}

/// A finished layer.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The compressed tar.
    pub blob: Blob,
    /// `sha256:` of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
}

/// Turns `/a/b/` or `a/b` into `a/b`; rejects `..`, empty names and NULs.
pub fn normalize(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::new(format!("image path `{path}` contains `..`"))
                    .hint("use an absolute path inside the image, e.g. /etc/app/config.toml"));
            }
            c if c.contains('\0') => {
                return Err(Error::new(format!(
                    "image path `{path}` contains a NUL byte"
                )));
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(
            Error::new(format!("image path `{path}` names the root directory"))
                .hint("name a file or directory below /"),
        );
    }
    Ok(parts.join("/"))
}

impl LayerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn parents(&mut self, path: &str) {
        let mut acc = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            self.entries.entry(acc.clone()).or_insert(Entry {
                kind: Kind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
        }
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let p = normalize(path)?;
        self.parents(&p);
        self.entries.insert(p, entry);
        Ok(())
    }

    /// A directory (replaces an implicit parent's mode and owner).
    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) -> Result<()> {
        self.insert(
            path,
            Entry {
                kind: Kind::Dir,
                mode,
                uid,
                gid,
            },
        )
    }

    /// A regular file.
    pub fn file(
        &mut self,
        path: &str,
        data: impl Into<Arc<[u8]>>,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> Result<()> {
        self.insert(
            path,
            Entry {
                kind: Kind::File(data.into()),
                mode,
                uid,
                gid,
            },
        )
    }

    /// A symbolic link, root-owned.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(
            path,
            Entry {
                kind: Kind::Symlink(target.to_string()),
                mode: 0o777,
                uid: 0,
                gid: 0,
            },
        )
    }

    /// Entries (directories included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The uncompressed tar: sorted entries, `mtime` on every one.
    pub fn tar(&self, mtime: u64) -> Result<Vec<u8>> {
        let io = |e: std::io::Error| Error::new(format!("writing a layer: {e}"));
        let mut b = tar::Builder::new(Vec::new());
        for (path, e) in &self.entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(e.mode);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            h.set_mtime(mtime);
            match &e.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, format!("{path}/"), std::io::empty())
                        .map_err(io)?;
                }
                Kind::File(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, path, &data[..]).map_err(io)?;
                }
                Kind::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, path, target).map_err(io)?;
                }
            }
        }
        b.into_inner().map_err(io)
    }

    /// The compressed layer and its diff id.
    pub fn build(&self, mtime: u64) -> Result<BuiltLayer> {
        let tar = self.tar(mtime)?;
        let diff_id = sha256_digest(&tar);
        let gz = gzip(&tar)?;
        Ok(BuiltLayer {
            blob: Blob::new(media::OCI_LAYER_GZIP, gz),
            diff_id,
        })
    }
}

/// gzip with a fixed header and level.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = GzBuilder::new().mtime(0).operating_system(255).write(
        Vec::with_capacity(data.len() / 2),
        Compression::new(GZIP_LEVEL),
    );
    enc.write_all(data)
        .and_then(|_| enc.finish())
        .map_err(|e| Error::new(format!("compressing a layer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tree_any_order_same_digest() {
        let mut a = LayerBuilder::new();
        a.file("/usr/local/bin/app", b"x".to_vec(), 0o755, 0, 0)
            .unwrap();
        a.file("etc/a", b"a".to_vec(), 0o644, 0, 0).unwrap();
        let mut b = LayerBuilder::new();
        b.file("etc/a", b"a".to_vec(), 0o644, 0, 0).unwrap();
        b.file("usr/local/bin/app", b"x".to_vec(), 0o755, 0, 0)
            .unwrap();
        let (la, lb) = (a.build(0).unwrap(), b.build(0).unwrap());
        assert_eq!(la.blob.digest, lb.blob.digest);
        assert_eq!(la.diff_id, lb.diff_id);
        assert_ne!(a.build(1).unwrap().diff_id, la.diff_id);
        // parents were added: etc, usr, usr/local, usr/local/bin
        assert_eq!(a.len(), 6);
    }

    #[test]
    fn rejects_escaping_paths() {
        assert!(normalize("/../etc").is_err());
        assert!(normalize("/").is_err());
        assert_eq!(normalize("//a/./b/").unwrap(), "a/b");
    }
}
