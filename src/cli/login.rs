//! `muslrust-chef login`: checks a username and password (or token)
//! against a registry, then stores them where `docker login` would
//! (the config's credential helper, else `auths` in
//! `$DOCKER_CONFIG/config.json`), so both tools share one login.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use muslrust_chef::error::{Error, Result};
use muslrust_chef::registry::auth::Scopes;
use muslrust_chef::registry::credentials::{self, Stored};
use muslrust_chef::registry::{Client, Credential, Found, Options, Reference, Source};

use super::Global;
use super::reporter::StderrReporter;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The registry (host[:port]; default Docker Hub).
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub registry: String,
    #[arg(short, long)]
    pub username: String,
    /// The password (prefer --password-stdin: arguments show up in `ps`).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password or token from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Trust this CA certificate (PEM) (repeatable).
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Vec<PathBuf>,
    /// Allow plain HTTP or unverified TLS for HOST[:PORT] (repeatable).
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
}

/// `host[:port]` of a registry argument (`https://ghcr.io/` and `ghcr.io/x` accepted).
pub fn registry_name(arg: &str) -> Result<String> {
    let a = arg
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = a.split('/').next().unwrap_or(a);
    let r = Reference::parse(&format!("{host}/x"))?;
    if !host.contains(['.', ':']) && host != "localhost" {
        return Err(
            Error::new(format!("`{arg}` does not look like a registry host"))
                .hint("pass a host such as ghcr.io, registry.example.com:5000 or localhost:5000"),
        );
    }
    Ok(r.registry)
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let registry = registry_name(&args.registry)?;
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::new(format!("reading the password from stdin: {e}")))?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err(Error::new("no password given")
                .hint("pipe it in: `echo \"$TOKEN\" | muslrust-chef login REGISTRY -u USER --password-stdin`"));
        }
    };
    if password.is_empty() {
        return Err(Error::new("the password is empty").hint("pass the password or token on stdin"));
    }
    let cred = Credential::basic(args.username.clone(), password);
    let opts = Options {
        insecure: args.insecure_registry.clone(),
        extra_ca: args.registry_ca.clone(),
        reporter: Arc::new(StderrReporter { quiet: g.quiet }),
        ..Options::default()
    };
    let found = Found {
        credential: Some(cred.clone()),
        source: Source::Explicit,
    };
    // Connecting authenticates (basic, or a token for no scope): a wrong
    // password fails here and nothing is stored.
    Client::connect(&registry, Scopes::default(), found, opts)?;
    let path = credentials::docker_config_path();
    let stored = credentials::store(&path, &registry, &cred)?;
    if !g.quiet {
        match stored {
            Stored::ConfigFile(p) => {
                eprintln!("Login succeeded; credentials stored in {}", p.display())
            }
            Stored::Helper(h) => {
                eprintln!("Login succeeded; credentials stored with docker-credential-{h}")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
