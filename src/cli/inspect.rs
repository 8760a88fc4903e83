//! `muslrust-chef inspect FILE`: ELF facts about a binary.

use std::path::PathBuf;
use std::process::ExitCode;

use muslrust_chef::error::Result;
use muslrust_chef::inspect;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A binary (or, later, `oci:DIR` / `docker-archive:FILE`).
    pub target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _g: Global) -> Result<ExitCode> {
    let path = PathBuf::from(&args.target);
    let report = inspect::inspect_file(&path)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializes")
        );
    } else {
        println!("{}", path.display());
        for (k, v) in inspect::describe(&report) {
            println!("  {k:<17} {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
