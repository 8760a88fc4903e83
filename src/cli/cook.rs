//! `muslrust-chef cook`: recreates a recipe's skeleton and builds only the
//! dependencies. Its flags are a superset of cargo-chef's `cook`, so a
//! Dockerfile switches over by changing one word; build settings not given
//! come from the recipe, and ones given differently are warned about.

use std::path::PathBuf;
use std::process::ExitCode;

use muslrust_chef::compile::Profile;
use muslrust_chef::error::{Error, Result};
use muslrust_chef::platform::Platform;
use muslrust_chef::recipe::{self, CookOptions, CookPlan};
use muslrust_chef::reporter::Reporter;

use super::Global;
use super::build_flags::BuildFlags;
use super::reporter::StderrReporter;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: BuildFlags,
    /// The recipe to cook.
    #[arg(long, value_name = "FILE", default_value = recipe::DEFAULT_FILE)]
    pub recipe_path: PathBuf,
    /// Build for this target triple (repeatable; musl triples use the musl toolchain).
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// The workspace manifest to cook (cargo-chef compatibility; default: from --path).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Build only this example (repeatable).
    #[arg(long = "example", value_name = "NAME")]
    pub example: Vec<String>,
    /// Build all binaries.
    #[arg(long = "bins")]
    pub all_bins: bool,
    /// Build all tests.
    #[arg(long)]
    pub tests: bool,
    /// Build all benches.
    #[arg(long)]
    pub benches: bool,
    /// Build all examples.
    #[arg(long)]
    pub examples: bool,
    /// Build all targets (`--tests --benches --examples`).
    #[arg(long)]
    pub all_targets: bool,
    /// Package to build (repeatable).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Build all members of the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Run `cargo check` instead of `cargo build`.
    #[arg(long, conflicts_with = "clippy")]
    pub check: bool,
    /// Run `cargo clippy` instead of `cargo build`.
    #[arg(long)]
    pub clippy: bool,
    /// Accepted for cargo-chef compatibility: the musl toolchain is used instead.
    #[arg(long)]
    pub zigbuild: bool,
    /// Write the skeleton without building anything.
    #[arg(long)]
    pub no_build: bool,
    /// Dummy libraries are `#![no_std]`.
    #[arg(long)]
    pub no_std: bool,
    /// Report build timings.
    #[arg(long)]
    pub timings: bool,
    /// Verbose cargo output.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Unstable cargo flags (passed as `-Z FLAG`).
    #[arg(short = 'Z', value_name = "FLAG")]
    pub unstable: Vec<String>,
    /// Overwrite existing Rust sources that are not cook's dummies.
    #[arg(long)]
    pub force: bool,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    let r = recipe::load(&args.recipe_path)?;
    let s = &r.settings;
    let flags = &args.flags;
    let warn = |what: &str, recipe: String, given: String| {
        if recipe != given {
            reporter.warn(&format!(
                "the recipe was prepared with {what} {recipe} but cook was given {given}: `build` will not reuse these dependencies unless it is given the same"
            ));
        }
    };

    let profile = if flags.release || flags.profile.is_some() {
        let p = flags.profile();
        warn("profile", s.profile.clone(), p.name().to_string());
        p
    } else {
        Profile::from_flags(false, Some(&s.profile))
    };
    let features = if !flags.features.is_empty() || flags.all_features || flags.no_default_features
    {
        let f = flags.features();
        warn(
            "features",
            format!("{:?}", sorted(s.features.clone())),
            format!("{:?}", sorted(f.features.clone())),
        );
        warn(
            "--all-features",
            s.all_features.to_string(),
            f.all_features.to_string(),
        );
        warn(
            "--no-default-features",
            (!s.default_features).to_string(),
            f.no_default_features.to_string(),
        );
        f
    } else {
        muslrust_chef::compile::Features {
            features: s.features.clone(),
            all_features: s.all_features,
            no_default_features: !s.default_features,
        }
    };
    let (platforms, targets) = if !flags.platform.is_empty() || !args.targets.is_empty() {
        let mut platforms: Vec<Platform> = if flags.platform.is_empty() {
            Vec::new()
        } else {
            flags.platforms(None)?
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
        let given: Vec<String> = platforms
            .iter()
            .map(|p| p.to_string())
            .chain(targets.iter().cloned())
            .collect();
        let recorded: Vec<String> = r
            .platforms()?
            .iter()
            .map(|p| p.to_string())
            .chain(s.targets.iter().cloned())
            .collect();
        warn(
            "platforms/targets",
            format!("{:?}", sorted(recorded)),
            format!("{:?}", sorted(given)),
        );
        (platforms, targets)
    } else {
        (r.platforms()?, s.targets.clone())
    };
    let bins = if flags.bins.is_empty() {
        s.bins.clone()
    } else {
        warn(
            "binaries",
            format!("{:?}", s.bins),
            format!("{:?}", sorted(flags.bins.clone())),
        );
        flags.bins.clone()
    };
    let examples = if args.example.is_empty() {
        s.examples.clone()
    } else {
        args.example.clone()
    };
    let mut libc = recipe::libc_of(s)?;
    if flags.allocator.is_some() || flags.string_functions.is_some() {
        let given = flags.libc(None, None)?;
        if flags.allocator.is_some() {
            warn(
                "allocator",
                s.allocator.clone(),
                recipe::allocator_name(given.allocator).into(),
            );
            libc.allocator = given.allocator;
        }
        if flags.string_functions.is_some() {
            warn(
                "string functions",
                s.string_functions.clone(),
                recipe::strings_name(given.strings).into(),
            );
            libc.strings = given.strings;
        }
    }

    // Target selection: cargo-chef's flags verbatim, else the same default as `build`.
    let cargo_chef_selection = args.all_bins
        || args.tests
        || args.benches
        || args.examples
        || args.all_targets
        || args.workspace
        || !args.package.is_empty();
    let selection = if cargo_chef_selection {
        let mut v = Vec::new();
        for (on, f) in [
            (args.all_bins, "--bins"),
            (args.tests, "--tests"),
            (args.benches, "--benches"),
            (args.examples, "--examples"),
            (args.all_targets, "--all-targets"),
            (args.workspace, "--workspace"),
        ] {
            if on {
                v.push(f.to_string());
            }
        }
        for p in &args.package {
            v.push("-p".into());
            v.push(p.clone());
        }
        for b in &flags.bins {
            v.push("--bin".into());
            v.push(b.clone());
        }
        for e in &args.example {
            v.push("--example".into());
            v.push(e.clone());
        }
        v
    } else {
        recipe::cook::default_selection(&r, &bins, &examples)
    };

    if args.zigbuild {
        reporter.warn("--zigbuild is not needed: muslrust-chef links with its own musl toolchain; building with cargo");
    }
    let command = if args.check {
        "check"
    } else if args.clippy {
        "clippy"
    } else {
        "build"
    };
    let mut extra = Vec::new();
    if args.timings {
        extra.push("--timings".to_string());
    }
    for z in &args.unstable {
        extra.push("-Z".into());
        extra.push(z.clone());
    }
    let mut cargo = flags.cargo_flags(g.quiet);
    cargo.verbose = args.verbose > 0;

    let dir = match &args.manifest_path {
        Some(m) => {
            if r.skeleton.workspace != "." {
                return Err(Error::new(
                    "--manifest-path can't be used with this recipe: its workspace lies below the cook directory",
                )
                .hint(format!(
                    "pass --path to the directory that holds `{}` instead",
                    r.skeleton.workspace
                )));
            }
            m.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
        }
        None => flags.path.clone(),
    };
    let opts = CookOptions {
        dir,
        no_std: args.no_std,
        force: args.force,
        no_build: args.no_build,
    };
    let plan = CookPlan {
        command: command.into(),
        platforms,
        targets,
        profile,
        features,
        cargo,
        libc,
        selection,
        extra,
    };
    let report = recipe::cook(&r, &opts, &plan, &reporter)?;
    if !opts.no_build {
        reporter.step(&format!(
            "dependencies cooked: {} compiled, {} already fresh; {} dummy artifacts removed",
            report.compiled, report.fresh, report.removed
        ));
    }
    Ok(ExitCode::SUCCESS)
}
