//! The Docker daemon sink (`--load`): streams a docker archive to the
//! Engine API's `POST /images/load` over the daemon's Unix socket.
//!
//! The client is a few dozen lines of HTTP/1.1 written here on purpose: we
//! make exactly two requests (`/_ping`, `/images/load`) on a local socket,
//! and the crates that speak the Engine API (bollard, or hyper with
//! hyperlocal) bring an async runtime and a large dependency tree for it.
//! The `docker` CLI is not used, so `--load` works wherever the socket is
//! reachable (also with only the daemon installed).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use super::Sink;
use super::docker_archive::{single_image, write_archive};
use crate::error::{Error, Result};
use crate::image::ImageSet;
use crate::reporter::Reporter;

pub use crate::env::DOCKER_HOST;
/// Where the daemon listens by default.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Loads images into a Docker daemon.
pub struct DaemonSink {
    socket: PathBuf,
}

impl DaemonSink {
    /// The daemon named by `DOCKER_HOST` (only `unix://` is supported), else
    /// the default socket.
    pub fn from_env() -> Result<DaemonSink> {
        match std::env::var(DOCKER_HOST) {
            Ok(h) if !h.is_empty() => match h.strip_prefix("unix://") {
                Some(p) => Ok(DaemonSink { socket: p.into() }),
                None => Err(Error::new(format!("{DOCKER_HOST}={h} is not a unix:// socket"))
                    .hint("--load talks to a local daemon over its Unix socket; for a remote one write --output docker-archive:FILE and `docker load -i` it")),
            },
            _ => Ok(DaemonSink { socket: DEFAULT_SOCKET.into() }),
        }
    }

    /// A sink for the daemon at `socket`.
    pub fn at(socket: PathBuf) -> DaemonSink {
        DaemonSink { socket }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let unreachable = |e: std::io::Error| {
            Error::new(format!("cannot reach the Docker daemon at {}: {e}", self.socket.display()))
                .hint("start Docker (e.g. `sudo systemctl start docker` or `dockerd &`), set DOCKER_HOST=unix:///path/to/docker.sock, or write --output docker-archive:FILE instead")
        };
        let mut s = UnixStream::connect(&self.socket).map_err(unreachable)?;
        s.set_read_timeout(Some(Duration::from_secs(600)))
            .map_err(unreachable)?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: muslrust-chef/{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(body))
            .map_err(unreachable)?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).map_err(unreachable)?;
        parse_response(&resp)
    }
}

/// Splits an HTTP/1.1 response into status and (de-chunked) body.
fn parse_response(resp: &[u8]) -> Result<(u16, Vec<u8>)> {
    let bad = || Error::new("the Docker daemon sent a malformed HTTP response");
    let end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&resp[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let raw = &resp[end + 4..];
    if !chunked {
        return Ok((status, raw.to_vec()));
    }
    let mut body = Vec::new();
    let mut rest = raw;
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = String::from_utf8_lossy(&rest[..nl]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        rest = &rest[nl + 2..];
        if size == 0 {
            break;
        }
        if rest.len() < size {
            return Err(bad());
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    Ok((status, body))
}

/// The error a daemon reported in a JSON message stream, if any.
fn stream_error(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let de = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let mut plain = None;
    for v in de {
        match v {
            Ok(v) => {
                if let Some(e) = v
                    .get("error")
                    .or_else(|| v.get("message"))
                    .and_then(|e| e.as_str())
                {
                    return Some(e.to_string());
                }
            }
            Err(_) => {
                plain = Some(text.trim().to_string());
                break;
            }
        }
    }
    plain.filter(|p| !p.is_empty())
}

impl Sink for DaemonSink {
    fn preflight(&self, platforms: usize) -> Result<()> {
        if platforms > 1 {
            return Err(Error::new(format!(
                "--load takes one platform, but {platforms} were asked for"
            ))
            .hint(
                "pick one with --platform, or write --output oci:DIR for a multi-platform image",
            ));
        }
        let (status, body) = self.request("GET", "/_ping", None, b"")?;
        if status != 200 {
            return Err(Error::new(format!(
                "the Docker daemon at {} answered /_ping with {status}: {}",
                self.socket.display(),
                String::from_utf8_lossy(&body).trim()
            )));
        }
        Ok(())
    }

    fn write(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>> {
        let img = single_image(images)?;
        let archive = write_archive(Vec::new(), images, tags)?;
        reporter.step(&format!(
            "loading into the Docker daemon at {}",
            self.socket.display()
        ));
        let (status, body) = self.request(
            "POST",
            "/images/load?quiet=1",
            Some("application/x-tar"),
            &archive,
        )?;
        if status != 200 || stream_error(&body).is_some() {
            let why = stream_error(&body)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(Error::new(format!("the Docker daemon refused the image ({status}): {why}"))
                .hint("write --output docker-archive:FILE and try `docker load -i FILE` to see the daemon's view"));
        }
        let id = &img.config.digest;
        Ok(if tags.is_empty() {
            vec![id.clone()]
        } else {
            tags.iter().map(|t| format!("{id} {t}")).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chunked_responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let (s, b) = parse_response(r).unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"hello world"[..]));
        let r = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno";
        assert_eq!(parse_response(r).unwrap().0, 500);
    }

    #[test]
    fn finds_stream_errors() {
        assert_eq!(stream_error(br#"{"stream":"Loaded image: a:b\n"}"#), None);
        assert_eq!(
            stream_error(br#"{"stream":"x"}{"errorDetail":{"message":"bad"},"error":"bad"}"#)
                .as_deref(),
            Some("bad")
        );
    }
}
