//! The `muslrust-chef` binary: parse arguments, call the library, render
//! errors once with their hint.

use std::process::ExitCode;

fn main() -> ExitCode {
    muslrust_chef_cli::main()
}

#[path = "cli/mod.rs"]
mod muslrust_chef_cli;
