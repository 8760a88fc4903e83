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
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    let project = args.flags.load_project()?;
    let req = args
        .flags
        .request(project, args.out.clone(), args.strip, g.quiet)?;
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
