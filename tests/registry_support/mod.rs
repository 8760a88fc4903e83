//! Test support for the registry tests: a real `docker-registry` (the CNCF
//! distribution registry from Debian) started per test on 127.0.0.1, plain
//! HTTP or TLS with a CA made at test time and htpasswd auth; a TCP proxy
//! that injects faults between the tool and the registry; and helpers to
//! build small images around a fake binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether `docker-registry` can be used (skips locally, fails in CI).
pub fn require_registry() -> bool {
    crate::common::require(
        "docker-registry",
        crate::common::have("docker-registry"),
        "apt-get install docker-registry (scripts/bootstrap.sh does)",
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().expect("command starts");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `docker-registry`; stopped on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The CA that signed its certificate (TLS only).
    pub ca: Option<PathBuf>,
    pub log: PathBuf,
    child: Child,
}

impl Registry {
    /// A plain-HTTP registry without auth.
    pub fn plain() -> Registry {
        Registry::start(None, false)
    }

    /// A TLS registry (certificate from a fresh CA) with htpasswd auth.
    pub fn tls_with_auth(user: &str, password: &str) -> Registry {
        Registry::start(Some((user, password)), true)
    }

    fn start(auth: Option<(&str, &str)>, tls: bool) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("chef-registry-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n\
storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
http:\n  addr: {addr}\n  secret: registry-test-secret\n",
            d.join("data").display()
        );
        let mut ca = None;
        if tls {
            make_tls(d);
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("server.crt").display(),
                d.join("server.key").display()
            ));
            ca = Some(d.join("ca.crt"));
        }
        if let Some((u, p)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .expect("htpasswd runs");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(d.join("htpasswd"), &out.stdout).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: chef-test\n    path: {}\n",
                d.join("htpasswd").display()
            ));
        }
        std::fs::write(d.join("config.yml"), cfg).unwrap();
        let log = d.join("registry.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("docker-registry starts");
        let reg = Registry {
            dir,
            addr,
            ca,
            log,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&reg.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}; log:\n{}",
                reg.addr,
                reg.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Access-log lines (`"METHOD /path HTTP/1.1" status`) written after
    /// `from` bytes of the log.
    pub fn requests_since(&self, from: usize) -> Vec<String> {
        let text = self.log_text();
        text.get(from..)
            .unwrap_or("")
            .lines()
            .filter_map(|l| {
                let start = l.find("\"")?;
                let rest = &l[start + 1..];
                let end = rest.find("\"")?;
                let req = &rest[..end];
                if req.contains(" /v2/") {
                    let status = rest[end + 1..].split_whitespace().next().unwrap_or("");
                    Some(format!("{req} {status}"))
                } else {
                    None
                }
            })
            .collect()
    }

    pub fn log_len(&self) -> usize {
        self.log_text().len()
    }

    /// `--src-cert-dir`-style directory for skopeo (TLS only).
    pub fn cert_dir(&self) -> PathBuf {
        let d = self.dir.path().join("certs.d");
        std::fs::create_dir_all(&d).unwrap();
        if let Some(ca) = &self.ca {
            std::fs::copy(ca, d.join("ca.crt")).unwrap();
        }
        d
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for 127.0.0.1/localhost in `d`.
fn make_tls(d: &Path) {
    let ossl = |args: &[&str]| sh(Command::new("openssl").current_dir(d).args(args));
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=muslrust-chef test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// Which faults the proxy injects.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Answer every Nth request with `503` + `Retry-After: 1` (0 = never).
    pub every_503: usize,
    /// Cut the connection halfway through the body of every Nth request
    /// that carries more than 64 KiB (0 = never).
    pub every_drop_upload: usize,
    /// Stop cutting after this many cuts (0 = no limit).
    pub max_drops: usize,
    /// Cut every upload body (the push cannot succeed).
    pub drop_all_uploads: bool,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub requests: AtomicUsize,
    pub injected_503: AtomicUsize,
    pub dropped: AtomicUsize,
}

/// A TCP proxy on 127.0.0.1 that forwards to `upstream`, parsing the
/// client's HTTP/1.1 requests (Content-Length bodies) to inject faults.
pub struct FaultProxy {
    pub addr: String,
    pub stats: Arc<ProxyStats>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

impl FaultProxy {
    pub fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stats = Arc::new(ProxyStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_string();
        let counter = Arc::new(Mutex::new((0usize, 0usize)));
        {
            let stats = stats.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = conn else { continue };
                    let upstream = upstream.clone();
                    let stats = stats.clone();
                    let counter = counter.clone();
                    std::thread::spawn(move || {
                        let _ = proxy_conn(client, &upstream, faults, &stats, &counter);
                    });
                }
            });
        }
        FaultProxy { addr, stats, stop }
    }
}

fn proxy_conn(
    client: TcpStream,
    upstream: &str,
    faults: Faults,
    stats: &ProxyStats,
    counter: &Mutex<(usize, usize)>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let client_w = Arc::new(Mutex::new(client.try_clone()?));
    // Responses flow back untouched.
    {
        let mut server_r = server.try_clone()?;
        let client_w = client_w.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match server_r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if client_w.lock().unwrap().write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = client_w.lock().unwrap().shutdown(Shutdown::Both);
        });
    }
    let mut server_w = server;
    let mut reader = BufReader::new(client);
    // A TLS handshake (the client probing HTTPS first): refuse it the way
    // a plain HTTP server would, by closing.
    if reader.fill_buf()?.first() == Some(&0x16) {
        let _ = server_w.shutdown(Shutdown::Both);
        let _ = reader.get_ref().shutdown(Shutdown::Both);
        return Ok(());
    }
    loop {
        // Request line and headers.
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                let _ = server_w.shutdown(Shutdown::Both);
                return Ok(());
            }
            let end = line == b"\r\n" || line == b"\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let len: usize = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let (n, uploads) = {
            let mut c = counter.lock().unwrap();
            c.0 += 1;
            if len > 64 << 10 {
                c.1 += 1;
            }
            *c
        };
        stats.requests.fetch_add(1, Ordering::SeqCst);
        if faults.every_503 > 0 && n % faults.every_503 == 0 {
            // Swallow the body, answer 503, close.
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body)?;
            stats.injected_503.fetch_add(1, Ordering::SeqCst);
            let mut w = client_w.lock().unwrap();
            w.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            let _ = w.shutdown(Shutdown::Both);
            let _ = server_w.shutdown(Shutdown::Both);
            return Ok(());
        }
        server_w.write_all(&head)?;
        let drop_this = len > 64 << 10
            && (faults.drop_all_uploads
                || (faults.every_drop_upload > 0
                    && uploads % faults.every_drop_upload == 0
                    && (faults.max_drops == 0
                        || stats.dropped.load(Ordering::SeqCst) < faults.max_drops)));
        let mut left = if drop_this { len / 2 } else { len };
        let mut buf = vec![0u8; 64 << 10];
        while left > 0 {
            let k = reader.read(&mut buf[..left.min(64 << 10)])?;
            if k == 0 {
                return Ok(());
            }
            server_w.write_all(&buf[..k])?;
            left -= k;
        }
        if drop_this {
            stats.dropped.fetch_add(1, Ordering::SeqCst);
            let _ = server_w.shutdown(Shutdown::Both);
            let _ = client_w.lock().unwrap().shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

/// Deterministic incompressible bytes (a stand-in for a binary).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs skopeo with `args`; returns (success, stdout, stderr).
pub fn skopeo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
