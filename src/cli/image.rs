//! `muslrust-chef image` (not implemented yet).

use std::process::ExitCode;

use muslrust_chef::error::{Error, Result};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args, _g: Global) -> Result<ExitCode> {
    Err(Error::new("`image` is not implemented yet"))
}
