//! `muslrust-chef prepare`: writes `recipe.json`, the dependency skeleton
//! plus the build settings (profile, features, platforms, binaries, libc)
//! that `cook` and `build` should use.

use std::path::PathBuf;
use std::process::ExitCode;

use muslrust_chef::env;
use muslrust_chef::error::Result;
use muslrust_chef::platform::Platform;
use muslrust_chef::project::Project;
use muslrust_chef::recipe::{self, PrepareOptions, Settings};

use super::Global;
use super::build_flags::BuildFlags;
use super::reporter::StderrReporter;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: BuildFlags,
    /// Where to write the recipe.
    #[arg(long, value_name = "FILE", default_value = recipe::DEFAULT_FILE)]
    pub recipe_path: PathBuf,
    /// Keep only what this example needs (repeatable).
    #[arg(long = "example", value_name = "NAME")]
    pub examples: Vec<String>,
    /// Record a target triple to cook for (repeatable; musl triples are platforms).
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Run `cargo generate-lockfile` when Cargo.lock is missing.
    #[arg(long)]
    pub generate_lockfile: bool,
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    let flags = &args.flags;
    // `cargo metadata --no-deps` with the user's cargo: probing every
    // toolchain (as `build` does) would triple prepare's run time.
    let project = Project::load(&flags.path, None)?;
    let explicit_platforms = !flags.platform.is_empty()
        || std::env::var(env::PLATFORMS).is_ok_and(|v| !v.trim().is_empty())
        || project.chef_setting(None, "platforms").is_some();
    let mut platforms: Vec<Platform> = if explicit_platforms {
        flags.platforms(Some(&project))?
    } else {
        Vec::new()
    };
    let mut targets = Vec::new();
    for t in &args.targets {
        match Platform::from_triple(t) {
            Some(p) => platforms.push(p),
            None => targets.push(t.clone()),
        }
    }
    platforms.sort();
    platforms.dedup();
    targets.sort();
    targets.dedup();
    let package = if flags.bins.len() == 1 {
        project.package_of(&flags.bins[0]).map(|p| p.name.clone())
    } else if project.members.len() == 1 {
        Some(project.members[0].name.clone())
    } else {
        None
    };
    let libc = flags.libc(Some(&project), package.as_deref())?;
    let features = flags.features();
    let settings = Settings {
        profile: flags.profile().name().to_string(),
        features: features.features,
        all_features: features.all_features,
        default_features: !features.no_default_features,
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
        targets,
        bins: Vec::new(),
        examples: Vec::new(),
        allocator: recipe::allocator_name(libc.allocator).into(),
        string_functions: recipe::strings_name(libc.strings).into(),
    };
    let cargo = None;
    let opts = PrepareOptions {
        path: flags.path.clone(),
        cargo,
        bins: flags.bins.clone(),
        examples: args.examples.clone(),
        generate_lockfile: args.generate_lockfile,
        settings,
        project: Some(project),
    };
    let r = recipe::prepare(&opts, &reporter)?;
    recipe::prepare::write(&r, &args.recipe_path)?;
    println!("{}", args.recipe_path.display());
    Ok(ExitCode::SUCCESS)
}
