//! `muslrust-chef logout`: removes a registry's credentials from the
//! Docker config (and its credential helper), like `docker logout`.

use std::process::ExitCode;

use muslrust_chef::error::Result;
use muslrust_chef::registry::credentials;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The registry (host[:port]; default Docker Hub).
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub registry: String,
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let registry = super::login::registry_name(&args.registry)?;
    let path = credentials::docker_config_path();
    let removed = credentials::erase(&path, &registry)?;
    if !g.quiet {
        if removed {
            eprintln!("Removed the credentials for {registry}");
        } else {
            eprintln!("Not logged in to {registry}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
