//! `muslrust-chef build`: static binaries for each platform, verified,
//! copied to `--out`; their paths (or JSON objects) on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use muslrust_chef::compile::{CargoCompiler, Compiler};
use muslrust_chef::error::Result;
use muslrust_chef::reporter::Reporter;
use muslrust_chef::{env, recipe};

use super::Global;
use super::build_flags::{AllocatorArg, BuildFlags, StringsArg};
use super::reporter::StderrReporter;

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum MessageFormat {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: BuildFlags,
    /// Strip symbols from the copies in --out.
    #[arg(long)]
    pub strip: bool,
    /// Where to copy the binaries (default: <target-dir>/muslrust-chef/<profile>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// `json`: one JSON object per artifact on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// The recipe cooked for this build (default: recipe.json in --path, if any):
    /// settings not given here come from it; differing ones are warned about.
    #[arg(long, value_name = "FILE")]
    pub recipe_path: Option<PathBuf>,
}

pub fn run(mut args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    // The recipe cooked for this build: its settings are the defaults, so
    // a build cannot silently miss the cooked dependencies.
    let implicit = args.flags.path.join(recipe::DEFAULT_FILE);
    let cooked = match (&args.recipe_path, implicit.is_file()) {
        (Some(p), _) => Some(recipe::load(p)?),
        (None, true) => match recipe::load(&implicit) {
            Ok(r) => Some(r),
            Err(e) => {
                reporter.warn(&format!("ignoring {}: {}", implicit.display(), e.message()));
                None
            }
        },
        (None, false) => None,
    };
    if let Some(r) = &cooked {
        let filled = fill_from_recipe(&mut args.flags, &r.settings);
        if !filled.is_empty() {
            reporter.step(&format!("using the recipe's {}", filled.join(", ")));
        }
    }
    let project = args.flags.load_project()?;
    let req = args
        .flags
        .request(project, args.out.clone(), args.strip, g.quiet)?;
    if let Some(r) = &cooked {
        for d in recipe::compare_settings(r, &req) {
            reporter.warn(&format!("CACHE MISS: {d}"));
        }
    }
    let artifacts = CargoCompiler.build(&req, &reporter)?;
    for a in &artifacts {
        match args.message_format {
            MessageFormat::Human => println!("{}", a.path.display()),
            MessageFormat::Json => {
                println!("{}", serde_json::to_string(a).expect("artifacts serialize"))
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Takes every setting the user did not give (flag or environment) from
/// the recipe; returns the names of those taken.
fn fill_from_recipe(f: &mut BuildFlags, s: &recipe::Settings) -> Vec<&'static str> {
    let mut taken = Vec::new();
    if !f.release && f.profile.is_none() && s.profile != "dev" {
        f.profile = Some(s.profile.clone());
        taken.push("profile");
    }
    let no_feature_flags = f.features.is_empty() && !f.all_features && !f.no_default_features;
    let recipe_has_features = !s.features.is_empty() || s.all_features || !s.default_features;
    if no_feature_flags && recipe_has_features {
        f.features = s.features.clone();
        f.all_features = s.all_features;
        f.no_default_features = !s.default_features;
        taken.push("features");
    }
    let env_set = |v: &str| std::env::var_os(v).is_some_and(|v| !v.is_empty());
    if f.platform.is_empty() && !env_set(env::PLATFORMS) && !s.platforms.is_empty() {
        f.platform = s.platforms.clone();
        taken.push("platforms");
    }
    if f.bins.is_empty() && !s.bins.is_empty() {
        f.bins = s.bins.clone();
        taken.push("binaries");
    }
    if f.allocator.is_none() && !env_set(env::ALLOCATOR) {
        f.allocator = match s.allocator.as_str() {
            "musl" => Some(AllocatorArg::Musl),
            "mimalloc" => Some(AllocatorArg::Mimalloc),
            _ => None,
        };
    }
    if f.string_functions.is_none() && !env_set(env::STRING_FUNCTIONS) {
        f.string_functions = match s.string_functions.as_str() {
            "musl" => Some(StringsArg::Musl),
            "fast" => Some(StringsArg::Fast),
            _ => None,
        };
    }
    taken
}
