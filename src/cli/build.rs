//! `muslrust-chef build`: static binaries for each platform, verified,
//! copied to `--out`; their paths (or JSON objects) on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use muslrust_chef::compile::{CargoCompiler, Compiler};
use muslrust_chef::error::Result;

use super::Global;
use super::build_flags::BuildFlags;
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
    /// The recipe cooked for this build (default: recipe.json in --path, if any): warn when settings differ.
    #[arg(long, value_name = "FILE")]
    pub recipe_path: Option<PathBuf>,
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    let project = args.flags.load_project()?;
    let req = args
        .flags
        .request(project, args.out.clone(), args.strip, g.quiet)?;
    let implicit = args.flags.path.join(muslrust_chef::recipe::DEFAULT_FILE);
    match (&args.recipe_path, implicit.is_file()) {
        (Some(p), _) => warn_settings(&muslrust_chef::recipe::load(p)?, &req, &reporter),
        (None, true) => match muslrust_chef::recipe::load(&implicit) {
            Ok(r) => warn_settings(&r, &req, &reporter),
            Err(e) => muslrust_chef::reporter::Reporter::warn(
                &reporter,
                &format!("ignoring {}: {}", implicit.display(), e.message()),
            ),
        },
        (None, false) => {}
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

/// Loud warnings when the build would miss the cooked dependencies.
fn warn_settings(
    recipe: &muslrust_chef::recipe::Recipe,
    req: &muslrust_chef::compile::BuildRequest,
    reporter: &dyn muslrust_chef::reporter::Reporter,
) {
    for d in muslrust_chef::recipe::compare_settings(recipe, req) {
        reporter.warn(&format!("CACHE MISS: {d}"));
    }
}
