//! `muslrust-chef doctor`: per-platform readiness and the fix for each gap.

use std::process::ExitCode;

use muslrust_chef::doctor;
use muslrust_chef::error::Result;
use muslrust_chef::platform::{self, Platform};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Platforms to check (default: linux/amd64,linux/arm64).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _g: Global) -> Result<ExitCode> {
    let platforms = if args.platform.is_empty() {
        Platform::ALL.to_vec()
    } else {
        platform::parse_list(&args.platform.join(","))?
    };
    let report = doctor::run(&platforms);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializes")
        );
    } else {
        for p in &report.platforms {
            let state = if p.can_build() { "ready" } else { "NOT READY" };
            println!("{} ({}): {state}", p.platform, p.platform.triple());
            for c in &p.checks {
                print_check(c);
            }
        }
        println!("docker:");
        print_check(&report.docker);
    }
    let host = Platform::host();
    let host_ok = report
        .platforms
        .iter()
        .filter(|p| Some(p.platform) == host || host.is_none())
        .all(|p| p.can_build());
    Ok(if host_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_check(c: &doctor::Check) {
    let mark = if c.ok { "ok" } else { "missing" };
    println!("  {:<12} {mark:<8} {}", c.name, c.detail);
    if let Some(fix) = &c.fix {
        println!("  {:<12} fix:     {fix}", "");
    }
}
