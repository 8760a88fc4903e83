//! Command-line parsing: clap types live here and in one file per command;
//! each command turns its flags into a validated plan and calls the
//! library.

mod build;
mod build_flags;
mod cook;
mod doctor;
mod image;
mod init;
mod inspect;
mod login;
mod logout;
mod prepare;
mod push_flags;
mod push_progress;
mod reporter;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use muslrust_chef::error;

/// Static, fast, cached musl builds and container images for Rust projects.
#[derive(Parser, Debug)]
#[command(name = "muslrust-chef", version, about, long_about = None)]
pub struct Cli {
    /// Print nothing but results and errors.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build verified static musl binaries for one or more platforms.
    Build(build::Args),
    /// Write a recipe (dependency skeleton + build settings) for `cook`.
    Prepare(prepare::Args),
    /// Build only the dependencies described by a recipe.
    Cook(cook::Args),
    /// Build and assemble a container image (no Docker needed).
    Image(image::Args),
    /// Show what is inside a binary or an image.
    Inspect(inspect::Args),
    /// Check what this machine can build, and how to fix what is missing.
    Doctor(doctor::Args),
    /// Write a Dockerfile, .dockerignore and CI workflows for a project.
    Init(init::Args),
    /// Log in to a registry (stored where `docker login` stores it).
    Login(login::Args),
    /// Remove a registry's stored credentials.
    Logout(logout::Args),
}

/// Options every command sees.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    pub quiet: bool,
}

/// Entry point: never panics on user input; errors end in a hint.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = Global { quiet: cli.quiet };
    let result = match cli.command {
        Command::Build(a) => build::run(a, global),
        Command::Prepare(a) => prepare::run(a, global),
        Command::Cook(a) => cook::run(a, global),
        Command::Image(a) => image::run(a, global),
        Command::Inspect(a) => inspect::run(a, global),
        Command::Doctor(a) => doctor::run(a, global),
        Command::Init(a) => init::run(a, global),
        Command::Login(a) => login::run(a, global),
        Command::Logout(a) => logout::run(a, global),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error::render(&e));
            ExitCode::FAILURE
        }
    }
}
