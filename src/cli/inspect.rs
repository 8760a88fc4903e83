//! `muslrust-chef inspect TARGET`: ELF facts about a binary, or what is
//! inside an image (`oci:DIR[:NAME]`, `docker-archive:FILE`).

use std::path::PathBuf;
use std::process::ExitCode;

use muslrust_chef::error::Result;
use muslrust_chef::image::inspect as image_inspect;
use muslrust_chef::inspect;
use muslrust_chef::output::{docker_archive, oci_layout};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A binary, an OCI layout (`oci:DIR[:NAME]`) or a docker archive (`docker-archive:FILE`).
    pub target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _g: Global) -> Result<ExitCode> {
    let images = if let Some(rest) = args.target.strip_prefix("oci:") {
        let (dir, name) = oci_layout::split_dir_ref(rest);
        Some(oci_layout::read_layout(&dir, name.as_deref())?.images)
    } else if let Some(file) = args.target.strip_prefix("docker-archive:") {
        Some(docker_archive::read_archive(&PathBuf::from(file))?.0)
    } else {
        None
    };
    if let Some(images) = images {
        let report = image_inspect::inspect_set(&images)?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("serializes")
            );
        } else {
            for line in image_inspect::describe(&report) {
                println!("{line}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
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
