//! `muslrust-chef init`: writes a Dockerfile, a `.dockerignore` and
//! (with `--ci github`) GitHub Actions workflows for a project, derived
//! from its manifests. Never overwrites a file unless `--force`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use muslrust_chef::error::Result;
use muslrust_chef::project::Project;
use muslrust_chef::scaffold::{self, Ci, Plan, RuntimeBase};
use muslrust_chef::toolchain;

use super::Global;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BaseArg {
    /// cgr.dev/chainguard/static
    Chainguard,
    /// gcr.io/distroless/static-debian12:nonroot
    Distroless,
    /// An empty image (CA certificates copied from the builder).
    Scratch,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CiArg {
    /// GitHub Actions: a Docker (buildx) workflow and a daemonless one.
    Github,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Cargo project (directory or Cargo.toml); files go to its
    /// workspace root.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
    /// The binary the image runs (needed when there are several).
    #[arg(long, value_name = "NAME")]
    pub bin: Option<String>,
    /// The runtime stage's base image.
    #[arg(long, value_enum, default_value = "chainguard")]
    pub base: BaseArg,
    /// Also write CI workflows.
    #[arg(long, value_enum)]
    pub ci: Option<CiArg>,
    /// The builder image the Dockerfile uses by default
    /// (`ARG MUSLRUST_CHEF_IMAGE`).
    #[arg(long, value_name = "REF")]
    pub builder_image: Option<String>,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let cargo = toolchain::rust::candidates()
        .into_iter()
        .next()
        .map(|t| t.cargo);
    let project = Project::load(&args.path, cargo.as_deref())?;
    let base = match args.base {
        BaseArg::Chainguard => RuntimeBase::Chainguard,
        BaseArg::Distroless => RuntimeBase::Distroless,
        BaseArg::Scratch => RuntimeBase::Scratch,
    };
    let ci = args.ci.map(|c| match c {
        CiArg::Github => Ci::Github,
    });
    let plan = Plan::new(&project, args.bin.as_deref(), base, args.builder_image, ci)?;
    let files = scaffold::generate(&plan);
    let written = scaffold::write_all(&project.workspace_root, &files, args.force)?;
    for p in &written {
        println!("{}", p.display());
    }
    if !g.quiet {
        eprintln!(
            "wrote {} file(s) for `{}`; build with: docker build -t {} {}",
            written.len(),
            plan.bin,
            plan.bin,
            project.workspace_root.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
