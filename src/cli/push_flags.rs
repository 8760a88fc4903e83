//! The registry flags of `image` (`--push` options and `--base REF`):
//! where the push goes (`MUSLRUST_CHEF_REPO`), which CAs and insecure
//! hosts to accept, how the result is reported, and pulling a base image
//! from a registry.

use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use muslrust_chef::Platform;
use muslrust_chef::env;
use muslrust_chef::error::{Error, Result};
use muslrust_chef::image::assemble::BaseChoice;
use muslrust_chef::output::Sink;
use muslrust_chef::output::registry::{RegistrySink, RegistrySinkOptions};
use muslrust_chef::registry::auth::Scopes;
use muslrust_chef::registry::{Client, Options, Reference, credentials, pull};

use super::reporter::StderrReporter;

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum MessageFormat {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args, Debug, Clone)]
pub struct PushFlags {
    /// Also write the pushed REF@sha256:... lines to FILE (for CI).
    #[arg(long, value_name = "FILE")]
    pub image_refs: Option<PathBuf>,
    /// Trust this CA certificate (PEM) for registries (repeatable).
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Vec<PathBuf>,
    /// Allow plain HTTP or unverified TLS for HOST[:PORT] (repeatable).
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// `json`: print the push report (blobs pushed/skipped/mounted, bytes sent) as JSON.
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// Print every registry request (method, path, status; never credentials).
    #[arg(long)]
    pub verbose: bool,
}

/// Resolves `--push` against `MUSLRUST_CHEF_REPO`: no value means the
/// repository itself; a bare `NAME[:TAG]` goes under it.
pub fn push_ref(value: &str) -> Result<String> {
    let repo = std::env::var(env::REPO).ok().filter(|r| !r.is_empty());
    let repo = repo.map(|r| r.trim_end_matches('/').to_string());
    match (value.is_empty(), repo) {
        (true, Some(r)) => Ok(r),
        (true, None) => Err(Error::new("--push needs a reference").hint(format!(
            "pass --push REGISTRY/REPO[:TAG], or set {} (like ko's KO_DOCKER_REPO)",
            env::REPO
        ))),
        (false, Some(r)) if !value.contains('/') => Ok(format!("{r}/{value}")),
        (false, _) => Ok(value.to_string()),
    }
}

impl PushFlags {
    fn client_options(&self, quiet: bool) -> Options {
        Options {
            insecure: self.insecure_registry.clone(),
            extra_ca: self.registry_ca.clone(),
            trace: self.verbose,
            reporter: Arc::new(StderrReporter { quiet }),
            ..Options::default()
        }
    }

    /// The registry sink for `reference`; mounts from `base` when it is a
    /// registry image in the same registry.
    pub fn sink(&self, reference: &str, base: Option<&str>, quiet: bool) -> Result<Box<dyn Sink>> {
        let target = Reference::parse(reference)?;
        let mount_from = base
            .filter(|b| !b.starts_with("oci:"))
            .and_then(|b| Reference::parse(b).ok())
            .filter(|b| b.registry == target.registry)
            .map(|b| vec![b.repository])
            .unwrap_or_default();
        let opts = RegistrySinkOptions {
            client: self.client_options(quiet),
            json: self.message_format == MessageFormat::Json,
            image_refs: self.image_refs.clone(),
            mount_from,
            progress: super::push_progress::for_stderr(quiet),
            ..RegistrySinkOptions::default()
        };
        Ok(Box::new(RegistrySink::new(reference, opts)?))
    }

    /// Pulls `--base REF` for `platforms`.
    pub fn pull_base(&self, spec: &str, platforms: &[Platform]) -> Result<BaseChoice> {
        let r = Reference::parse(spec).map_err(|e| {
            let msg = e.message().to_string();
            Error::new(msg).hint("use --base oci:DIR[:NAME] or a registry reference such as cgr.dev/chainguard/static:latest")
        })?;
        let found = credentials::lookup(&r.registry)?;
        let client = Client::connect(
            &r.registry,
            Scopes::pull(&r.repository),
            found,
            self.client_options(false),
        )?;
        let images = pull::pull(&client, &r, platforms)?;
        Ok(BaseChoice::Image {
            name: r.to_string(),
            images,
        })
    }
}
