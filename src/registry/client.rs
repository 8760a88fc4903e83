//! A small, blocking client for the OCI distribution API: the few calls a
//! push and a pull need (HEAD/GET/PUT of blobs and manifests, uploads,
//! cross-repository mounts), each with retries and authentication.
//!
//! Why not `oci-client` (crates.io)? It is async (reqwest + tokio), its
//! `push` uploads every blob without first asking whether the registry has
//! it, it does not mount across repositories on its own, and it reads no
//! Docker config or credential helper; those four are the point of issue 5,
//! so we would wrap or bypass most of it. The protocol subset is small:
//! this module is that subset over `ureq` (blocking, rustls), so the
//! program keeps one thread model and no async runtime.
//!
//! Robustness rules:
//! - 429, 5xx and dropped connections are retried with exponential backoff
//!   (honouring `Retry-After`); a 401 triggers one re-authentication.
//! - Large blobs go up in chunks (`PATCH` with `Content-Range`); when a
//!   chunk fails, the upload's status (`GET` on its location) says where
//!   the registry stands and the upload resumes there; when the registry
//!   lost the session, or does not take chunks, the whole blob is sent
//!   again in one `PUT`.
//! - Pulled manifests and blobs are hashed and refused on mismatch.
//! - Secrets go only into `Authorization` headers: errors and trace lines
//!   carry the method, path, status and the *source* of the credential.

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use ureq::http::{self, Response};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::{Body, SendBody};

use crate::error::{Error, Result};
use crate::reporter::{Reporter, Silent};

use super::auth::{Challenge, Scopes, token_from_reply};
use super::credentials::Found;
use super::reference::{Reference, host_without_port};

/// Manifest media types we ask for when pulling.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

use crate::env::REGISTRY_CHUNK_SIZE as CHUNK_SIZE_ENV;
/// Default chunk size: blobs up to this size go up in one `PUT`.
pub const DEFAULT_CHUNK_SIZE: usize = 16 << 20;

/// How to reach registries.
#[derive(Clone)]
pub struct Options {
    /// Hosts (`host` or `host:port`) allowed over plain HTTP or with
    /// unverified TLS (`--insecure-registry`).
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM) to trust (`--registry-ca`).
    pub extra_ca: Vec<PathBuf>,
    /// Upload chunk size; blobs no larger go up whole.
    pub chunk_size: usize,
    /// Tries per request (1 = no retry).
    pub attempts: u32,
    /// First backoff delay; doubles per attempt.
    pub backoff: Duration,
    /// Longest wait taken from a `Retry-After` header.
    pub max_retry_after: Duration,
    /// Prints one line per request (method, path, status; never headers).
    pub trace: bool,
    /// Where retries and trace lines go.
    pub reporter: Arc<dyn Reporter>,
}

impl Default for Options {
    fn default() -> Self {
        let chunk_size = std::env::var(CHUNK_SIZE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CHUNK_SIZE);
        Options {
            insecure: Vec::new(),
            extra_ca: Vec::new(),
            chunk_size,
            attempts: 6,
            backoff: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(30),
            trace: false,
            reporter: Arc::new(Silent),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("insecure", &self.insecure)
            .field("extra_ca", &self.extra_ca)
            .field("chunk_size", &self.chunk_size)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Whether `registry` may be spoken to over plain HTTP.
pub fn allows_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = host_without_port(registry);
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || host.ends_with(".localhost")
        || insecure.iter().any(|i| i == registry || i == host)
}

fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    let host = host_without_port(registry);
    insecure.iter().any(|i| i == registry || i == host)
}

/// System roots + webpki roots (loaded once per process).
fn default_roots() -> &'static [Certificate<'static>] {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut v: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        v.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned()),
        );
        v
    })
}

fn build_agent(verify: bool, extra_ca: &[PathBuf]) -> Result<ureq::Agent> {
    let mut roots = default_roots().to_vec();
    for path in extra_ca {
        let pem = std::fs::read(path).map_err(|e| Error::io("reading the CA file", path, e))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                roots.push(c.to_owned());
            }
        }
        if roots.len() == before {
            return Err(
                Error::new(format!("{} holds no PEM certificate", path.display())).hint(
                    "pass the registry's CA certificate in PEM form (-----BEGIN CERTIFICATE-----)",
                ),
            );
        }
    }
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .disable_verification(!verify)
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("muslrust-chef/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(300)))
        .max_redirects(5)
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// Which `Authorization` a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthUse<'a> {
    /// The session's current header (if the URL is on the registry host).
    Session,
    /// None at all.
    Anonymous,
    /// This header value.
    Header(&'a str),
}

/// One request, replayable for retries.
struct Req<'a> {
    method: http::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<&'a [u8]>,
    retry: bool,
    auth: AuthUse<'a>,
    progress: Option<&'a dyn Fn(u64)>,
    /// Whether the body is blob payload (counted in [`Client::bytes_sent`]).
    blob: bool,
}

impl<'a> Req<'a> {
    fn new(method: http::Method, url: String) -> Req<'a> {
        Req {
            method,
            url,
            headers: Vec::new(),
            body: None,
            retry: true,
            auth: AuthUse::Session,
            progress: None,
            blob: false,
        }
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    fn body(mut self, b: &'a [u8]) -> Self {
        self.body = Some(b);
        self
    }
    fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }
    /// Marks the body as blob payload reported to `progress`.
    fn blob_payload(mut self, progress: &'a dyn Fn(u64)) -> Self {
        self.blob = true;
        self.progress = Some(progress);
        self
    }
}

/// Counts the bytes ureq reads out of a body.
struct CountingReader<'a> {
    data: &'a [u8],
    pos: usize,
    progress: Option<&'a dyn Fn(u64)>,
    sent: Option<&'a Mutex<u64>>,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.data.len() - self.pos).min(buf.len()).min(256 << 10);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        if let Some(sent) = self.sent {
            *sent.lock().unwrap() += n as u64;
        }
        if let Some(p) = self.progress {
            p(n as u64);
        }
        Ok(n)
    }
}

/// What a mount attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The registry linked the blob into the repository.
    Mounted,
    /// Not mounted; the registry opened an upload session at this URL.
    Upload(String),
}

/// A manifest (or index) as the registry returned it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub media_type: String,
    pub digest: String,
    pub data: Vec<u8>,
}

/// A connection to one registry, authenticated for a set of scopes.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    registry: String,
    found: Found,
    scopes: Mutex<Scopes>,
    auth: Mutex<Option<String>>,
    opts: Options,
    /// Blob payload bytes handed to the network (retries included).
    sent: Mutex<u64>,
    /// Set when the registry refused a chunked upload.
    no_chunks: Mutex<bool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("source", &self.found.source)
            .finish()
    }
}

/// A registry error body: `{"errors":[{"code":..,"message":..}]}`.
fn registry_errors(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let Some(errs) = v.get("errors").and_then(|e| e.as_array()) else {
        return String::new();
    };
    errs.iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            format!("{code}: {msg}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_retryable_status(s: u16) -> bool {
    matches!(s, 408 | 429 | 500 | 502 | 503 | 504)
}

fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::HostNotFound
    )
}

fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The path of a URL without its query (for messages).
fn url_path(url: &str) -> &str {
    let no_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = no_scheme.find('/').map(|i| &no_scheme[i..]).unwrap_or("/");
    path.split('?').next().unwrap_or(path)
}

/// Reads at most `limit` bytes of a response body.
fn read_body(resp: &mut Response<Body>, limit: u64) -> Vec<u8> {
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .unwrap_or_default()
}

/// `start-end` (or `bytes=start-end`) to the next offset.
fn parse_range_end(v: &str) -> Option<u64> {
    let v = v.trim().trim_start_matches("bytes=");
    let (a, b) = v.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    // distribution reports an empty upload as `0-0`; chunks are never one
    // byte long, so `0-0` reads as nothing received.
    if a == 0 && b == 0 {
        Some(0)
    } else {
        Some(b + 1)
    }
}

impl Client {
    /// Connects to `registry` (`host[:port]`; `docker.io` for Hub) with
    /// the credential in `found`, authenticating for `scopes`. Tries HTTPS
    /// first; plain HTTP only for localhost or `--insecure-registry` hosts.
    pub fn connect(registry: &str, scopes: Scopes, found: Found, opts: Options) -> Result<Client> {
        let api_host = Reference {
            registry: registry.to_string(),
            repository: "x".into(),
            tag: None,
            digest: None,
        }
        .api_host()
        .to_string();
        let insecure = is_insecure(registry, &opts.insecure);
        let agent = build_agent(!insecure, &opts.extra_ca)?;
        let plain_ok = allows_plain_http(registry, &opts.insecure);
        let mut client = Client {
            agent,
            base: format!("https://{api_host}"),
            registry: registry.to_string(),
            found,
            scopes: Mutex::new(scopes),
            auth: Mutex::new(None),
            opts,
            sent: Mutex::new(0),
            no_chunks: Mutex::new(false),
        };
        match client.ping(!plain_ok) {
            Ok(()) => Ok(client),
            Err(PingError::Other(e)) => Err(e),
            Err(PingError::Transport(e)) if plain_ok => {
                client.base = format!("http://{api_host}");
                match client.ping(true) {
                    Ok(()) => Ok(client),
                    Err(PingError::Other(e2))
                        if e2.message().contains("HTTP request to an HTTPS") =>
                    {
                        Err(e)
                    }
                    Err(PingError::Other(e2)) => Err(e2),
                    Err(PingError::Transport(_)) => Err(e),
                }
            }
            Err(PingError::Transport(e)) => Err(e),
        }
    }

    /// The registry this client talks to (`host[:port]`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `https://host` or `http://host`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Where the credential came from.
    pub fn credential_source(&self) -> &super::credentials::Source {
        &self.found.source
    }

    /// Blob payload bytes sent so far (retries included).
    pub fn bytes_sent(&self) -> u64 {
        *self.sent.lock().unwrap()
    }

    fn trace(&self, line: impl FnOnce() -> String) {
        if self.opts.trace {
            self.opts.reporter.step(&line());
        }
    }

    fn ping(&self, retry: bool) -> std::result::Result<(), PingError> {
        let url = format!("{}/v2/", self.base);
        let mut req = Req::new(http::Method::GET, url);
        req.retry = retry;
        let mut resp = match self.execute(&req) {
            Ok(r) => r,
            Err(ExecError::Transport(e)) => return Err(PingError::Transport(e)),
            Err(ExecError::Other(e)) => return Err(PingError::Other(e)),
        };
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(PingError::Other(self.auth_error(status, "/v2/"))),
            _ => {
                let body = read_body(&mut resp, 64 << 10);
                let text = String::from_utf8_lossy(&body);
                let mut msg = format!("{} answered /v2/ with HTTP {status}", self.registry);
                if text.contains("HTTP request to an HTTPS") {
                    msg.push_str(" (Client sent an HTTP request to an HTTPS server)");
                }
                Err(PingError::Other(Error::new(msg).hint(
                    "check that the address is a container registry (distribution API v2)",
                )))
            }
        }
    }

    /// The error for a 401/403, naming the credential source (never its value).
    fn auth_error(&self, status: u16, path: &str) -> Error {
        let what = if status == 401 {
            "authentication failed"
        } else {
            "access denied"
        };
        let hint = match &self.found.source {
            super::credentials::Source::Anonymous => format!(
                "log in with `muslrust-chef login {}` (or `docker login`), or set {} and {}",
                self.registry,
                crate::env::REGISTRY_USERNAME,
                crate::env::REGISTRY_PASSWORD
            ),
            _ if status == 403 => "the credential is valid but lacks permission for this repository; check its scopes or the repository name".to_string(),
            _ => format!(
                "check the username and password/token, then log in again with `muslrust-chef login {}`",
                self.registry
            ),
        };
        Error::new(format!(
            "{} for {} (HTTP {status} on {path}); credentials tried: {}",
            what, self.registry, self.found.source
        ))
        .hint(hint)
    }

    fn send_once(&self, req: &Req) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str());
        for (k, v) in &req.headers {
            b = b.header(*k, v.as_str());
        }
        let auth = match req.auth {
            AuthUse::Session if req.url.starts_with(&self.base) => {
                self.auth.lock().unwrap().clone()
            }
            AuthUse::Header(h) => Some(h.to_string()),
            _ => None,
        };
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        match req.body {
            None => {
                let r = b.body(()).map_err(ureq::Error::Http)?;
                self.agent.run(r)
            }
            Some(data) => {
                let mut reader = CountingReader {
                    data,
                    pos: 0,
                    progress: req.progress,
                    sent: req.blob.then_some(&self.sent),
                };
                let r = b
                    .header("content-length", data.len().to_string())
                    .body(SendBody::from_reader(&mut reader))
                    .map_err(ureq::Error::Http)?;
                self.agent.run(r)
            }
        }
    }

    fn execute(&self, req: &Req) -> std::result::Result<Response<Body>, ExecError> {
        let mut attempt = 0;
        let mut reauthed = false;
        loop {
            attempt += 1;
            let result = self.send_once(req);
            match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    self.trace(|| format!("{} {} -> {status}", req.method, url_path(&req.url)));
                    if status == 401 && !reauthed && req.auth == AuthUse::Session {
                        reauthed = true;
                        if self.reauthenticate(&resp).map_err(ExecError::Other)? {
                            attempt -= 1;
                            continue;
                        }
                        return Ok(resp);
                    }
                    if req.retry && is_retryable_status(status) && attempt < self.opts.attempts {
                        let wait = retry_after(&resp)
                            .map(|d| d.min(self.opts.max_retry_after))
                            .unwrap_or_else(|| self.backoff(attempt));
                        self.opts.reporter.warn(&format!(
                            "{} {} answered HTTP {status}; retrying in {:.1}s (attempt {}/{})",
                            req.method,
                            url_path(&req.url),
                            wait.as_secs_f64(),
                            attempt + 1,
                            self.opts.attempts
                        ));
                        std::thread::sleep(wait);
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    self.trace(|| format!("{} {} -> {e}", req.method, url_path(&req.url)));
                    if req.retry && is_transient(&e) && attempt < self.opts.attempts {
                        let wait = self.backoff(attempt);
                        self.opts.reporter.warn(&format!(
                            "{} {} failed ({e}); retrying in {:.1}s (attempt {}/{})",
                            req.method,
                            url_path(&req.url),
                            wait.as_secs_f64(),
                            attempt + 1,
                            self.opts.attempts
                        ));
                        std::thread::sleep(wait);
                        continue;
                    }
                    let err = Error::new(format!(
                        "{} {}{}: {e}",
                        req.method,
                        self.registry,
                        url_path(&req.url)
                    ));
                    let err = match &e {
                        ureq::Error::Tls(_) | ureq::Error::Io(_)
                            if self.base.starts_with("https") && e.to_string().to_lowercase().contains("certif") =>
                        {
                            err.hint("the registry's certificate is not trusted: pass its CA with --registry-ca FILE, or --insecure-registry HOST for a test registry")
                        }
                        _ => err.hint("check the registry address and your network; retry later if the registry is overloaded"),
                    };
                    return Err(if is_transient(&e) || matches!(e, ureq::Error::Tls(_)) {
                        ExecError::Transport(err)
                    } else {
                        ExecError::Other(err)
                    });
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(6);
        (self.opts.backoff * factor).min(Duration::from_secs(10))
    }

    /// Reacts to a 401: sets the header the challenge asks for. Returns
    /// whether the request is worth repeating.
    fn reauthenticate(&self, resp: &Response<Body>) -> Result<bool> {
        let challenges: Vec<Challenge> = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(Challenge::parse)
            .collect();
        let bearer = challenges
            .iter()
            .find(|c| matches!(c, Challenge::Bearer { .. }));
        match bearer.or(challenges.first()) {
            Some(Challenge::Basic) => {
                let Some(cred) = &self.found.credential else {
                    return Ok(false);
                };
                let h = cred.basic_header();
                let mut auth = self.auth.lock().unwrap();
                if auth.as_deref() == Some(h.as_str()) {
                    return Ok(false);
                }
                *auth = Some(h);
                Ok(true)
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                if let Some(s) = scope {
                    self.scopes.lock().unwrap().add_requested(s);
                }
                let token = self.fetch_token(realm, service.as_deref())?;
                *self.auth.lock().unwrap() = Some(format!("Bearer {token}"));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Trades the credential (or nothing) for a bearer token at `realm`.
    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String> {
        let scopes: Vec<String> = self
            .scopes
            .lock()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let mut url = url::Url::parse(realm).map_err(|e| {
            Error::new(format!(
                "{} sent an invalid token realm `{realm}`: {e}",
                self.registry
            ))
        })?;
        let cred = self.found.credential.as_ref();
        let mut resp = if let Some(c) = cred.filter(|c| c.is_identity_token()) {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token");
            form.append_pair("refresh_token", c.secret());
            form.append_pair("client_id", "muslrust-chef");
            if let Some(s) = service {
                form.append_pair("service", s);
            }
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            let body = form.finish();
            let mut req = Req::new(http::Method::POST, url.to_string())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.as_bytes());
            req.auth = AuthUse::Anonymous;
            self.execute(&req).map_err(ExecError::into_error)?
        } else {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in &scopes {
                    q.append_pair("scope", s);
                }
                if let Some(c) = cred {
                    q.append_pair("account", &c.username);
                }
            }
            let basic = cred.map(|c| c.basic_header());
            let mut req = Req::new(http::Method::GET, url.to_string());
            req.auth = match &basic {
                Some(h) => AuthUse::Header(h),
                None => AuthUse::Anonymous,
            };
            self.execute(&req).map_err(ExecError::into_error)?
        };
        let status = resp.status().as_u16();
        let body = read_body(&mut resp, 1 << 20);
        match status {
            200..=299 => token_from_reply(&body).ok_or_else(|| {
                Error::new(format!(
                    "the token server of {} answered without a token",
                    self.registry
                ))
            }),
            401 | 403 => Err(self.auth_error(status, url_path(realm))),
            _ => Err(Error::new(format!(
                "the token server of {} answered HTTP {status}",
                self.registry
            ))
            .hint("retry later; if it persists, check the registry's status")),
        }
    }

    fn url(&self, repo: &str, rest: &str) -> String {
        format!("{}/v2/{repo}/{rest}", self.base)
    }

    /// Turns an unexpected response into an error.
    /// The outcome of the PUT that completes a blob upload: `None` when the
    /// blob is stored (201), `Some((why, wait))` for a failure worth
    /// retrying (a 429/5xx or a dropped connection), an error otherwise.
    fn put_outcome(
        &self,
        result: std::result::Result<Response<Body>, ExecError>,
        what: &str,
        location: &str,
        during: &str,
    ) -> Result<Option<(String, Option<Duration>)>> {
        match result {
            Ok(resp) if resp.status().as_u16() == 201 => Ok(None),
            Ok(resp) if is_retryable_status(resp.status().as_u16()) => Ok(Some((
                format!("HTTP {}{during}", resp.status().as_u16()),
                retry_after(&resp),
            ))),
            Ok(resp) => Err(self.status_error(resp, what, url_path(location))),
            Err(ExecError::Transport(e)) => Ok(Some((e.message().to_string(), None))),
            Err(ExecError::Other(e)) => Err(e),
        }
    }

    fn status_error(&self, mut resp: Response<Body>, what: &str, path: &str) -> Error {
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return self.auth_error(status, path);
        }
        let body = read_body(&mut resp, 64 << 10);
        let detail = registry_errors(&body);
        let mut msg = format!("{what}: {} answered HTTP {status}", self.registry);
        if !detail.is_empty() {
            msg.push_str(&format!(" ({detail})"));
        }
        let err = Error::new(msg);
        if is_retryable_status(status) {
            err.hint("the registry kept failing after retries; try again later")
        } else {
            err.hint("check the repository name and that the registry accepts OCI images")
        }
    }

    fn run(&self, req: &Req) -> Result<Response<Body>> {
        self.execute(req).map_err(ExecError::into_error)
    }

    /// Whether `repo` has blob `digest` (HEAD).
    pub fn blob_exists(&self, repo: &str, digest: &str) -> Result<bool> {
        let url = self.url(repo, &format!("blobs/{digest}"));
        let resp = self.run(&Req::new(http::Method::HEAD, url.clone()))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(resp, &format!("checking blob {digest}"), url_path(&url))),
        }
    }

    /// Resolves a `Location` header against the registry.
    fn resolve(&self, location: &str) -> Result<String> {
        let base = url::Url::parse(&self.base).expect("base URL parses");
        base.join(location).map(|u| u.to_string()).map_err(|e| {
            Error::new(format!(
                "{} sent an invalid upload location: {e}",
                self.registry
            ))
        })
    }

    fn location(&self, resp: &Response<Body>, what: &str) -> Result<String> {
        let loc = header(resp, "location").ok_or_else(|| {
            Error::new(format!("{what}: {} sent no Location header", self.registry))
        })?;
        self.resolve(&loc)
    }

    /// Tries to link `digest` from repository `from` into `repo` without
    /// uploading it.
    pub fn mount_blob(&self, repo: &str, digest: &str, from: &str) -> Result<Mount> {
        let url = format!(
            "{}?mount={}&from={}",
            self.url(repo, "blobs/uploads/"),
            digest,
            from
        );
        let resp = self.run(&Req::new(http::Method::POST, url.clone()).body(&[]))?;
        match resp.status().as_u16() {
            201 => Ok(Mount::Mounted),
            202 => Ok(Mount::Upload(self.location(&resp, "mounting")?)),
            _ => Err(self.status_error(resp, &format!("mounting blob {digest}"), url_path(&url))),
        }
    }

    /// Opens an upload session; returns its URL.
    pub fn start_upload(&self, repo: &str) -> Result<String> {
        let url = self.url(repo, "blobs/uploads/");
        let resp = self.run(&Req::new(http::Method::POST, url.clone()).body(&[]))?;
        match resp.status().as_u16() {
            202 => self.location(&resp, "starting an upload"),
            _ => Err(self.status_error(resp, "starting an upload", url_path(&url))),
        }
    }

    /// Where an upload stands: the next offset and the session's new URL,
    /// or `None` when the registry no longer knows the session.
    fn upload_status(&self, location: &str) -> Result<Option<(u64, String)>> {
        let resp = self.run(&Req::new(http::Method::GET, location.to_string()))?;
        match resp.status().as_u16() {
            204 | 200 => {
                let offset = header(&resp, "range")
                    .and_then(|r| parse_range_end(&r))
                    .unwrap_or(0);
                let loc = match header(&resp, "location") {
                    Some(l) => self.resolve(&l)?,
                    None => location.to_string(),
                };
                Ok(Some((offset, loc)))
            }
            _ => Ok(None),
        }
    }

    fn with_digest(location: &str, digest: &str) -> Result<String> {
        let mut u = url::Url::parse(location)
            .map_err(|e| Error::new(format!("invalid upload location: {e}")))?;
        u.query_pairs_mut().append_pair("digest", digest);
        Ok(u.to_string())
    }

    /// Uploads `data` as blob `digest` into `repo`, starting with the
    /// session at `location` if one is already open. `progress` receives
    /// byte counts as they are sent (restarts count again).
    pub fn upload_blob(
        &self,
        repo: &str,
        digest: &str,
        data: &[u8],
        location: Option<String>,
        progress: &dyn Fn(u64),
    ) -> Result<()> {
        let what = format!("uploading blob {digest}");
        let mut location = match location {
            Some(l) => l,
            None => self.start_upload(repo)?,
        };
        let mut failures = 0u32;
        // A failure costs one try; the limit is generous because each
        // failure may be a dropped connection mid-chunk.
        let max_failures = self.opts.attempts * 2;
        let mut fail = |this: &Self, why: String, wait: Option<Duration>| -> Result<()> {
            failures += 1;
            if failures >= max_failures {
                return Err(Error::new(format!(
                    "{what}: gave up after {failures} failures; last: {why}"
                ))
                .hint("the registry or the network kept failing; try again later"));
            }
            let wait = wait
                .map(|d| d.min(this.opts.max_retry_after))
                .unwrap_or_else(|| this.backoff(failures));
            this.opts.reporter.warn(&format!(
                "{what}: {why}; retrying in {:.1}s",
                wait.as_secs_f64()
            ));
            std::thread::sleep(wait);
            Ok(())
        };
        let len = data.len() as u64;
        'session: loop {
            let chunked = len > self.opts.chunk_size as u64 && !*self.no_chunks.lock().unwrap();
            let mut offset = 0u64;
            if chunked {
                while offset < len {
                    let end = (offset + self.opts.chunk_size as u64).min(len);
                    let req = Req::new(http::Method::PATCH, location.clone())
                        .header("content-type", "application/octet-stream")
                        .header("content-range", format!("{}-{}", offset, end - 1))
                        .body(&data[offset as usize..end as usize])
                        .no_retry()
                        .blob_payload(progress);
                    let (why, wait) = match self.execute(&req) {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            match status {
                                202 | 204 => {
                                    location = self.location(&resp, &what)?;
                                    let reported =
                                        header(&resp, "range").and_then(|r| parse_range_end(&r));
                                    offset = match reported {
                                        Some(r) if r <= end && r > offset => r,
                                        _ => end,
                                    };
                                    continue;
                                }
                                400 | 405 | 501 if offset == 0 => {
                                    // Registries that take no chunks: send it whole.
                                    *self.no_chunks.lock().unwrap() = true;
                                    continue 'session;
                                }
                                416 => (
                                    format!("registry rejected range {offset}-{}", end - 1),
                                    None,
                                ),
                                s if is_retryable_status(s) => {
                                    (format!("HTTP {s}"), retry_after(&resp))
                                }
                                _ => {
                                    return Err(self.status_error(
                                        resp,
                                        &what,
                                        url_path(&location),
                                    ));
                                }
                            }
                        }
                        Err(ExecError::Transport(e)) => (e.message().to_string(), None),
                        Err(ExecError::Other(e)) => return Err(e),
                    };
                    fail(self, why, wait)?;
                    match self.upload_status(&location)? {
                        Some((o, l)) if o <= len => {
                            offset = o;
                            location = l;
                        }
                        _ => {
                            location = self.start_upload(repo)?;
                            offset = 0;
                        }
                    }
                }
                // Close the session: PUT ?digest= with no body.
                let url = Self::with_digest(&location, digest)?;
                let req = Req::new(http::Method::PUT, url).body(&[]).no_retry();
                let Some((why, wait)) =
                    self.put_outcome(self.execute(&req), &what, &location, " closing the upload")?
                else {
                    return Ok(());
                };
                fail(self, why, wait)?;
                if self.blob_exists(repo, digest)? {
                    return Ok(());
                }
                location = self.start_upload(repo)?;
                continue 'session;
            }
            // The whole blob in one PUT.
            let url = Self::with_digest(&location, digest)?;
            let req = Req::new(http::Method::PUT, url)
                .header("content-type", "application/octet-stream")
                .body(data)
                .no_retry()
                .blob_payload(progress);
            let Some((why, wait)) = self.put_outcome(self.execute(&req), &what, &location, "")?
            else {
                return Ok(());
            };
            fail(self, why, wait)?;
            if self.blob_exists(repo, digest)? {
                return Ok(());
            }
            location = self.start_upload(repo)?;
        }
    }

    /// Puts a manifest or index under `reference` (a digest or a tag) and
    /// checks the registry computed the digest we did.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> Result<()> {
        let url = self.url(repo, &format!("manifests/{reference}"));
        let req = Req::new(http::Method::PUT, url.clone())
            .header("content-type", media_type)
            .body(data);
        let resp = self.run(&req)?;
        let what = format!("pushing manifest {repo}:{reference}");
        match resp.status().as_u16() {
            200..=299 => {
                let ours = crate::image::sha256_digest(data);
                if let Some(theirs) = header(&resp, "docker-content-digest")
                    && theirs.starts_with("sha256:")
                    && theirs != ours
                {
                    return Err(Error::new(format!(
                        "{what}: the registry stored digest {theirs}, expected {ours}"
                    ))
                    .hint("the registry rewrote the manifest; report this with the registry's name and version"));
                }
                Ok(())
            }
            _ => Err(self.status_error(resp, &what, url_path(&url))),
        }
    }

    /// The digest `reference` (a tag or digest) points at, or `None`.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<String>> {
        let url = self.url(repo, &format!("manifests/{reference}"));
        let req = Req::new(http::Method::HEAD, url.clone()).header("accept", MANIFEST_ACCEPT);
        let resp = self.run(&req)?;
        match resp.status().as_u16() {
            200..=299 => Ok(header(&resp, "docker-content-digest")),
            404 => Ok(None),
            _ => Err(self.status_error(
                resp,
                &format!("checking {repo}:{reference}"),
                url_path(&url),
            )),
        }
    }

    /// Fetches a manifest or index, verifying its digest when pinned.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<FetchedManifest> {
        let url = self.url(repo, &format!("manifests/{reference}"));
        let req = Req::new(http::Method::GET, url.clone()).header("accept", MANIFEST_ACCEPT);
        let mut resp = self.run(&req)?;
        let what = format!("pulling {}/{repo}:{reference}", self.registry);
        if resp.status().as_u16() == 404 {
            return Err(Error::new(format!("{what}: not found")).hint(
                "check the repository and tag (`skopeo inspect docker://REF` lists what exists)",
            ));
        }
        if !resp.status().is_success() {
            return Err(self.status_error(resp, &what, url_path(&url)));
        }
        let header_type = header(&resp, "content-type");
        let header_digest = header(&resp, "docker-content-digest");
        let data = resp
            .body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_vec()
            .map_err(|e| Error::new(format!("{what}: reading the manifest: {e}")))?;
        let digest = crate::image::sha256_digest(&data);
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(exp) = expected
            && exp != digest
        {
            return Err(Error::new(format!(
                "{what}: the manifest's digest is {digest}, expected {exp}"
            ))
            .hint("the registry or a proxy altered the content; do not use this image"));
        }
        let body_type = serde_json::from_slice::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            });
        let media_type = body_type
            .or(header_type.map(|h| h.split(';').next().unwrap_or("").trim().to_string()))
            .unwrap_or_default();
        Ok(FetchedManifest {
            media_type,
            digest,
            data,
        })
    }

    /// Downloads blob `digest` to `dest` (written under a temporary name,
    /// hashed, renamed only when the digest matches).
    pub fn get_blob_to(&self, repo: &str, digest: &str, dest: &Path) -> Result<u64> {
        let Some(expected_hex) = digest.strip_prefix("sha256:") else {
            return Err(
                Error::new(format!("unsupported digest algorithm in {digest}"))
                    .hint("only sha256 digests are supported"),
            );
        };
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let url = self.url(repo, &format!("blobs/{digest}"));
        let what = format!("pulling blob {digest}");
        let mut tries = 0;
        loop {
            tries += 1;
            let mut resp = self.run(&Req::new(http::Method::GET, url.clone()))?;
            if !resp.status().is_success() {
                return Err(self.status_error(resp, &what, url_path(&url)));
            }
            let mut tmp = tempfile::Builder::new()
                .prefix(".blob.")
                .tempfile_in(dir)
                .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
            let mut hasher = Sha256::new();
            let mut reader = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 256 << 10];
            let mut total = 0u64;
            let copied: std::io::Result<()> = loop {
                match reader.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        hasher.update(&buf[..n]);
                        total += n as u64;
                        if let Err(e) = tmp.write_all(&buf[..n]) {
                            return Err(Error::io("writing", tmp.path(), e));
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            if let Err(e) = copied {
                if tries < self.opts.attempts {
                    self.opts.reporter.warn(&format!("{what}: {e}; retrying"));
                    std::thread::sleep(self.backoff(tries));
                    continue;
                }
                return Err(Error::new(format!("{what}: {e}")).hint("check the network and retry"));
            }
            let got = hex::encode(hasher.finalize());
            if got != expected_hex {
                return Err(
                    Error::new(format!("{what}: content hashes to sha256:{got}"))
                        .hint("the registry or a proxy altered the blob; do not use this image"),
                );
            }
            tmp.persist(dest)
                .map_err(|e| Error::io("writing", dest, e.error))?;
            return Ok(total);
        }
    }
}

enum PingError {
    Transport(Error),
    Other(Error),
}

enum ExecError {
    /// The connection failed (refused, dropped, TLS): worth trying HTTP
    /// or resuming an upload.
    Transport(Error),
    Other(Error),
}

impl ExecError {
    fn into_error(self) -> Error {
        match self {
            ExecError::Transport(e) | ExecError::Other(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_local_or_listed_hosts() {
        assert!(allows_plain_http("localhost:5000", &[]));
        assert!(allows_plain_http("127.0.0.1:5000", &[]));
        assert!(!allows_plain_http("ghcr.io", &[]));
        assert!(!allows_plain_http("registry.internal:5000", &[]));
        assert!(allows_plain_http(
            "registry.internal:5000",
            &["registry.internal".into()]
        ));
        assert!(allows_plain_http(
            "registry.internal:5000",
            &["registry.internal:5000".into()]
        ));
    }

    #[test]
    fn parses_ranges_and_paths() {
        assert_eq!(parse_range_end("0-1023"), Some(1024));
        assert_eq!(parse_range_end("bytes=0-9"), Some(10));
        assert_eq!(parse_range_end("0-0"), Some(0));
        assert_eq!(parse_range_end("x"), None);
        assert_eq!(
            url_path("http://h:1/v2/a/blobs/uploads/u?_state=s"),
            "/v2/a/blobs/uploads/u"
        );
    }

    #[test]
    fn reads_registry_error_bodies() {
        let b = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]}"#;
        assert_eq!(registry_errors(b), "BLOB_UNKNOWN: blob unknown to registry");
        assert_eq!(registry_errors(b"<html>"), "");
    }
}
