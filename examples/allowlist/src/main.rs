//! `allowlist`: the example service for muslrust-chef. A small HTTP API that
//! answers whether an address is allowed (`GET /{address}`) and adds
//! addresses (`POST /{address}`), keeping them in memory or in Redis. It
//! carries no allocator code: built with muslrust-chef, the static binary
//! gets mimalloc and fast string functions from the tool, at link time.
//!
//! Environment:
//! - `BIND`: the address to listen on, an IP (`0.0.0.0`, the default) or
//!   IP and port (`127.0.0.1:8080`);
//! - `PORT`: the port when `BIND` has none (default 3000; 0 picks a free
//!   one, printed at startup);
//! - `REDIS_URL`: use the Redis set at this URL instead of memory.
//!
//! SIGTERM or SIGINT stops accepting connections, finishes the requests in
//! flight and exits 0.

mod address;
mod http;
mod store;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use store::Store;

// The reference system's approach, for the benchmark's comparison only (off
// by default): the program chooses mimalloc in its source.
#[cfg(feature = "mimalloc-crate")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_PORT: u16 = 3000;

fn main() -> ExitCode {
    let listen = match listen_address(
        std::env::var("BIND").ok().as_deref(),
        std::env::var("PORT").ok().as_deref(),
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("allowlist: error: {e}");
            return ExitCode::from(2);
        }
    };
    let redis_url = std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("allowlist: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, redis_url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("allowlist: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listen: SocketAddr, redis_url: Option<String>) -> Result<(), String> {
    let store = match redis_url {
        Some(url) => Store::redis(&url).await.map_err(|e| {
            format!("{e} (hint: check REDIS_URL, e.g. redis://127.0.0.1:6379/, or unset it to keep addresses in memory)")
        })?,
        None => Store::memory(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e} (hint: set PORT or BIND)"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    eprintln!(
        "allowlist: listening on http://{local} (storage: {})",
        store.kind()
    );
    axum::serve(listener, http::router(store))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    eprintln!("allowlist: stopped");
    Ok(())
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            // Without handlers the default action (exit) still applies.
            eprintln!("allowlist: warning: cannot handle signals: {e}");
            return std::future::pending().await;
        }
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    eprintln!("allowlist: {name} received, finishing requests in flight");
}

/// The socket address from `BIND` and `PORT`.
fn listen_address(bind: Option<&str>, port: Option<&str>) -> Result<SocketAddr, String> {
    let bind = bind.map(str::trim).filter(|b| !b.is_empty());
    let port = port.map(str::trim).filter(|p| !p.is_empty());
    if let Some(b) = bind
        && let Ok(addr) = b.parse::<SocketAddr>()
    {
        if port.is_some() {
            return Err(format!(
                "BIND={b} already has a port and PORT is set too (hint: set only one of them)"
            ));
        }
        return Ok(addr);
    }
    let ip = match bind {
        Some(b) => b
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| {
                format!("BIND={b} is not an IP address (hint: e.g. 0.0.0.0, ::, 127.0.0.1:8080)")
            })?,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("PORT={p} is not a port number (hint: 0 to 65535)"))?,
        None => DEFAULT_PORT,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_all_interfaces_port_3000() {
        assert_eq!(
            listen_address(None, None).unwrap(),
            "0.0.0.0:3000".parse().unwrap()
        );
        assert_eq!(
            listen_address(Some(""), Some(" ")).unwrap(),
            "0.0.0.0:3000".parse().unwrap()
        );
    }

    #[test]
    fn bind_and_port_combine() {
        assert_eq!(
            listen_address(Some("127.0.0.1"), Some("8080")).unwrap(),
            "127.0.0.1:8080".parse().unwrap()
        );
        assert_eq!(
            listen_address(Some("::1"), Some("0")).unwrap(),
            "[::1]:0".parse().unwrap()
        );
        assert_eq!(
            listen_address(Some("[::]"), None).unwrap(),
            "[::]:3000".parse().unwrap()
        );
        assert_eq!(
            listen_address(Some("127.0.0.1:9000"), None).unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
    }

    #[test]
    fn bad_settings_are_explained() {
        assert!(
            listen_address(Some("localhost"), None)
                .unwrap_err()
                .contains("BIND=localhost is not an IP address")
        );
        assert!(
            listen_address(None, Some("http"))
                .unwrap_err()
                .contains("PORT=http is not a port number")
        );
        assert!(
            listen_address(None, Some("70000"))
                .unwrap_err()
                .contains("PORT=70000")
        );
        assert!(
            listen_address(Some("127.0.0.1:1"), Some("2"))
                .unwrap_err()
                .contains("set only one")
        );
    }
}
