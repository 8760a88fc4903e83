//! The built-in runtime base, generated here with no download: the same
//! idea as `chainguard/static` or `distroless/static` (users, groups, CA
//! certificates, `/tmp`, a home for the non-root user, nothing to run),
//! made from constants and a crate, so it is identical on every machine.
//!
//! The CA bundle comes from `webpki-root-certs` (Mozilla's root program as
//! DER certificates, kept up to date by the rustls project), PEM-encoded
//! in the crate's order; `--ca-bundle FILE` replaces it.

use std::path::{Path, PathBuf};

use super::layer::{BuiltLayer, LayerBuilder};
use crate::error::{Error, Result};

/// The non-root user (and group) images run as by default.
pub const NONROOT_UID: u64 = 65532;
/// `nobody`.
pub const NOBODY_UID: u64 = 65534;
/// Where the CA bundle lives (Debian's and Alpine's path).
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The non-root user's home and the default working directory.
pub const NONROOT_HOME: &str = "/home/nonroot";
/// `PATH` in the image.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin";
/// Where `--tzdata` copies the time zone database from.
pub const HOST_ZONEINFO: &str = "/usr/share/zoneinfo";

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";

const GROUP: &str = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";

const NSSWITCH: &str = "# Written by muslrust-chef: local files first, then DNS for hosts.\n\
passwd: files\n\
group: files\n\
shadow: files\n\
hosts: files dns\n\
networks: files\n\
protocols: files\n\
services: files\n";

/// What goes into the built-in base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseOptions {
    /// A PEM file to use instead of the built-in Mozilla roots.
    pub ca_bundle: Option<PathBuf>,
    /// Add the host's time zone database (`/usr/share/zoneinfo`).
    pub tzdata: bool,
}

/// The built-in CA bundle: the Mozilla roots from `webpki-root-certs`,
/// PEM-encoded.
pub fn mozilla_ca_bundle() -> String {
    let mut out = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64(cert.as_ref());
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Standard base64 with padding (RFC 4648), for PEM.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads a `--ca-bundle` file, checking it looks like PEM certificates.
fn read_ca_bundle(path: &Path) -> Result<Vec<u8>> {
    let data = std::fs::read(path).map_err(|e| {
        Error::io("reading the CA bundle", path, e)
            .hint("pass a PEM file of certificates to --ca-bundle")
    })?;
    if !data
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(
            Error::new(format!("{} holds no PEM certificate", path.display()))
                .hint("--ca-bundle takes a PEM file (-----BEGIN CERTIFICATE----- blocks)"),
        );
    }
    Ok(data)
}

/// Validates the options (files exist) before anything is built.
pub fn check(opts: &BaseOptions) -> Result<()> {
    if let Some(p) = &opts.ca_bundle {
        read_ca_bundle(p)?;
    }
    if opts.tzdata && !Path::new(HOST_ZONEINFO).is_dir() {
        return Err(Error::new(format!(
            "--tzdata: {HOST_ZONEINFO} does not exist on this machine"
        ))
        .hint("install the time zone database (apt-get install tzdata), or drop --tzdata"));
    }
    Ok(())
}

/// The base file tree.
pub fn tree(opts: &BaseOptions) -> Result<LayerBuilder> {
    let mut l = LayerBuilder::new();
    l.dir("etc", 0o755, 0, 0)?;
    l.file("etc/passwd", PASSWD.as_bytes().to_vec(), 0o644, 0, 0)?;
    l.file("etc/group", GROUP.as_bytes().to_vec(), 0o644, 0, 0)?;
    l.file(
        "etc/nsswitch.conf",
        NSSWITCH.as_bytes().to_vec(),
        0o644,
        0,
        0,
    )?;
    let os_release = format!(
        "NAME=\"muslrust-chef static\"\nID=muslrust-chef\nVERSION_ID=\"{v}\"\nPRETTY_NAME=\"muslrust-chef static base {v}\"\n",
        v = env!("CARGO_PKG_VERSION")
    );
    l.file("etc/os-release", os_release.into_bytes(), 0o644, 0, 0)?;
    let bundle = match &opts.ca_bundle {
        Some(p) => read_ca_bundle(p)?,
        None => mozilla_ca_bundle().into_bytes(),
    };
    l.file(CA_BUNDLE_PATH, bundle, 0o644, 0, 0)?;
    l.dir("root", 0o700, 0, 0)?;
    l.dir("home", 0o755, 0, 0)?;
    l.dir(NONROOT_HOME, 0o700, NONROOT_UID, NONROOT_UID)?;
    l.dir("tmp", 0o1777, 0, 0)?;
    if opts.tzdata {
        add_zoneinfo(&mut l, Path::new(HOST_ZONEINFO))?;
    }
    Ok(l)
}

/// The base layer.
pub fn layer(opts: &BaseOptions, mtime: u64) -> Result<BuiltLayer> {
    tree(opts)?.build(mtime)
}

/// Copies a zoneinfo tree: regular files (0644) and the symlinks between
/// zones, sorted; host owners, times and modes are not carried over.
fn add_zoneinfo(l: &mut LayerBuilder, root: &Path) -> Result<()> {
    fn walk(l: &mut LayerBuilder, root: &Path, dir: &Path) -> Result<()> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io("reading", dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        for p in names {
            let rel = p.strip_prefix(root).expect("below root");
            let dest = format!("usr/share/zoneinfo/{}", rel.to_string_lossy());
            let meta = std::fs::symlink_metadata(&p).map_err(|e| Error::io("reading", &p, e))?;
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).map_err(|e| Error::io("reading", &p, e))?;
                l.symlink(&dest, &t.to_string_lossy())?;
            } else if meta.is_dir() {
                l.dir(&dest, 0o755, 0, 0)?;
                walk(l, root, &p)?;
            } else if meta.is_file() {
                let data = std::fs::read(&p).map_err(|e| Error::io("reading", &p, e))?;
                l.file(&dest, data, 0o644, 0, 0)?;
            }
        }
        Ok(())
    }
    walk(l, root, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn bundle_has_many_certificates() {
        let pem = mozilla_ca_bundle();
        let n = pem.matches("BEGIN CERTIFICATE").count();
        assert!(n > 100, "{n} certificates");
    }
}
