//! `muslrust-chef image`: build the binary (like `build`), assemble one
//! image per platform on the built-in base or `--base`, and hand the result
//! to exactly one sink (`--output oci:DIR`, `--output docker-archive:FILE`,
//! `--load`, `--push REF`). stdout gets `DIGEST REFERENCE` lines.
//!
//! Profile: cargo's default (dev) unless `--release`/`--profile`, the same
//! as `build`, so `image` never surprises with a different binary; the
//! binary is stripped by default (`--no-strip` keeps symbols) because
//! symbols are dead weight in an image.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use muslrust_chef::compile::CargoCompiler;
use muslrust_chef::error::{Error, Result};
use muslrust_chef::image::assemble::{
    self, BaseChoice, ImageSpec, Metadata, parse_key_value, parse_port, resolve_include,
};
use muslrust_chef::image::base::{self, BaseOptions};
use muslrust_chef::image::time;
use muslrust_chef::output::{self, Output, SinkOptions, oci_layout};

use super::Global;
use super::build_flags::BuildFlags;
use super::reporter::StderrReporter;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: BuildFlags,
    /// Where the image goes: oci:DIR or docker-archive:FILE.
    #[arg(long, value_name = "SCHEME:PATH", conflicts_with_all = ["load", "push"])]
    pub output: Option<String>,
    /// Load the image into the local Docker daemon (one platform).
    #[arg(long, conflicts_with = "push")]
    pub load: bool,
    /// Push to a registry repository (REGISTRY/REPO[:TAG]); a bare NAME[:TAG],
    /// or no value, goes under $MUSLRUST_CHEF_REPO.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "")]
    pub push: Option<String>,
    #[command(flatten)]
    pub registry: super::push_flags::PushFlags,
    /// Image name and tag (repeatable; default: <bin>:latest).
    #[arg(short, long = "tag", value_name = "NAME:TAG")]
    pub tags: Vec<String>,
    /// Replace an existing output file or directory.
    #[arg(long)]
    pub force: bool,
    /// Put the app layer on this image instead of the built-in base: oci:DIR[:NAME] or a registry REF.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// PEM CA bundle for the built-in base (default: Mozilla's roots from webpki-root-certs).
    #[arg(long, value_name = "FILE", conflicts_with = "base")]
    pub ca_bundle: Option<PathBuf>,
    /// Add the host's time zone database (/usr/share/zoneinfo) to the built-in base.
    #[arg(long, conflicts_with = "base")]
    pub tzdata: bool,
    /// Copy a file or directory from the project into the image (SRC:DEST, repeatable).
    #[arg(long = "include", value_name = "SRC:DEST")]
    pub includes: Vec<String>,
    /// The user the container runs as (default: 65532:65532, "nonroot").
    #[arg(long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An environment variable (KEY=VALUE, repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
    /// A config label (KEY=VALUE, repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A port the service listens on (PORT[/PROTO], repeatable).
    #[arg(long = "expose", value_name = "PORT")]
    pub expose: Vec<String>,
    /// Keep the binary's symbols (it is stripped by default).
    #[arg(long)]
    pub no_strip: bool,
    /// Where to copy the built binaries (default: <target-dir>/muslrust-chef/<profile>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The one destination named by the flags.
fn output_of(args: &Args) -> Result<Output> {
    match (&args.output, args.load, &args.push) {
        (Some(o), _, _) => o.parse(),
        (None, true, _) => Ok(Output::Daemon),
        (None, false, Some(r)) => Ok(Output::Registry(super::push_flags::push_ref(r)?)),
        (None, false, None) => Err(Error::new("no output given for the image")
            .hint("add --output oci:DIR, --output docker-archive:FILE, --load or --push REF")),
    }
}

/// Reads `--base`.
fn base_of(args: &Args, platforms: &[muslrust_chef::Platform]) -> Result<BaseChoice> {
    let Some(spec) = &args.base else {
        let opts = BaseOptions {
            ca_bundle: args.ca_bundle.clone(),
            tzdata: args.tzdata,
        };
        base::check(&opts)?;
        return Ok(BaseChoice::BuiltIn(opts));
    };
    match spec.split_once(':') {
        Some(("oci", rest)) if !rest.is_empty() => {
            let (dir, name) = oci_layout::split_dir_ref(rest);
            let loaded = oci_layout::read_layout(&dir, name.as_deref())?;
            let name = loaded.ref_name.or(name).unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            Ok(BaseChoice::Image {
                name,
                images: loaded.images,
            })
        }
        _ => args.registry.pull_base(spec, platforms),
    }
}

pub fn run(args: Args, g: Global) -> Result<ExitCode> {
    let reporter = StderrReporter { quiet: g.quiet };
    // Everything that can be wrong with the flags fails before the build.
    let output = output_of(&args)?;
    let sink = match &output {
        Output::Registry(r) => args.registry.sink(r, args.base.as_deref(), g.quiet)?,
        _ => output::sink_for(&output, SinkOptions { force: args.force })?,
    };
    let project = args.flags.load_project()?;
    let bin = assemble::select_bin(&project, &args.flags.bins)?;
    let req = args
        .flags
        .request(project, args.out.clone(), !args.no_strip, g.quiet)?;
    sink.preflight(req.platforms.len())?;
    let mut includes = Vec::new();
    for i in &args.includes {
        includes.extend(resolve_include(&req.project.workspace_root, i)?);
    }
    let mut labels = BTreeMap::new();
    for l in &args.labels {
        let (k, v) = parse_key_value(l, "--label")?;
        labels.insert(k, v);
    }
    let spec = ImageSpec {
        base: base_of(&args, &req.platforms)?,
        user: args.user.clone(),
        env: args
            .envs
            .iter()
            .map(|e| parse_key_value(e, "--env"))
            .collect::<Result<_>>()?,
        labels,
        expose: args
            .expose
            .iter()
            .map(|p| parse_port(p))
            .collect::<Result<_>>()?,
        includes,
        metadata: Metadata::from_project(&req.project, &bin),
        epoch: time::source_date_epoch()?,
    };
    assemble::check_platforms(&spec, &req.platforms)?;
    let mut tags: Vec<String> = args.tags.iter().map(|t| output::normalize_tag(t)).collect();
    if matches!(output, Output::Registry(_)) {
        // The registry sink tags the pushed REF's tag plus any --tag.
        tags = args.tags.clone();
    } else if tags.is_empty() {
        tags.push(format!("{bin}:latest"));
    }
    let mut req = req;
    req.bins = vec![bin];
    let images = assemble::build_image(&CargoCompiler, &req, &spec, &reporter)?;
    for line in sink.write(&images, &tags, &reporter)? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
