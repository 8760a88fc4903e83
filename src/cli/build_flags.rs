//! Flags shared by `build`, `cook` and `image`, and how they become a
//! [`BuildRequest`]: flags, then `MUSLRUST_CHEF_*` environment, then
//! `[package.metadata.muslrust-chef]` / `[workspace.metadata.muslrust-chef]`.

use std::path::PathBuf;

use clap::ValueEnum;
use muslrust_chef::compile::{BuildRequest, CargoFlags, Features, Profile};
use muslrust_chef::error::{Error, Result};
use muslrust_chef::platform::{self, Platform};
use muslrust_chef::project::Project;
use muslrust_chef::toolchain::{Allocator, LibcChoice, StringFunctions};
use muslrust_chef::{env, toolchain};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AllocatorArg {
    Mimalloc,
    Musl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StringsArg {
    Fast,
    Musl,
}

/// Build flags (cargo's names).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BuildFlags {
    /// The Cargo project (directory or Cargo.toml).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub path: PathBuf,
    /// Platforms, comma-separated: linux/amd64, linux/arm64 (default: the host's).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Build with the release profile.
    #[arg(long, conflicts_with = "profile")]
    pub release: bool,
    /// Build with the named profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Build only this binary (repeatable).
    #[arg(long = "bin", value_name = "NAME")]
    pub bins: Vec<String>,
    /// Features to activate (comma- or space-separated).
    #[arg(short = 'F', long, value_name = "LIST")]
    pub features: Vec<String>,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,
    /// Require Cargo.lock up to date and no network.
    #[arg(long)]
    pub frozen: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Parallel jobs.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<u32>,
    /// Cargo's target directory.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// The malloc linked in place of musl's (default: mimalloc).
    #[arg(long, value_enum)]
    pub allocator: Option<AllocatorArg>,
    /// memcpy/memmove/memset implementation (default: fast).
    #[arg(long, value_enum)]
    pub string_functions: Option<StringsArg>,
}

impl BuildFlags {
    /// The selected platforms: flag, then environment, then metadata, then
    /// the host.
    pub fn platforms(&self, project: Option<&Project>) -> Result<Vec<Platform>> {
        if !self.platform.is_empty() {
            return platform::parse_list(&self.platform.join(","));
        }
        if let Ok(v) = std::env::var(env::PLATFORMS)
            && !v.trim().is_empty()
        {
            return platform::parse_list(&v);
        }
        if let Some(list) = project
            .and_then(|p| p.chef_setting(None, "platforms"))
            .and_then(|v| v.as_array())
        {
            let joined: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
            if !joined.is_empty() {
                return platform::parse_list(&joined.join(","));
            }
        }
        Platform::host().map(|p| vec![p]).ok_or_else(|| {
            Error::new(format!(
                "this machine's architecture ({}) has no musl platform",
                std::env::consts::ARCH
            ))
            .hint("pass --platform linux/amd64 or linux/arm64")
        })
    }

    pub fn profile(&self) -> Profile {
        Profile::from_flags(self.release, self.profile.as_deref())
    }

    pub fn features(&self) -> Features {
        Features {
            features: self
                .features
                .iter()
                .flat_map(|f| f.split([',', ' ']))
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
        }
    }

    pub fn cargo_flags(&self, quiet: bool) -> CargoFlags {
        CargoFlags {
            locked: self.locked,
            frozen: self.frozen,
            offline: self.offline,
            jobs: self.jobs,
            verbose: false,
            quiet,
            target_dir: self.target_dir.clone(),
        }
    }

    /// The libc variant: flag, environment, metadata, default.
    pub fn libc(&self, project: Option<&Project>, package: Option<&str>) -> Result<LibcChoice> {
        let mut choice = LibcChoice::default();
        let setting = |flag: Option<String>, var: &str, key: &str| -> Option<String> {
            flag.or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
                .or_else(|| {
                    project
                        .and_then(|p| p.chef_setting(package, key))
                        .and_then(|v| v.as_str().map(str::to_string))
                })
        };
        let a = setting(
            self.allocator.map(|a| format!("{a:?}").to_lowercase()),
            env::ALLOCATOR,
            "allocator",
        );
        if let Some(a) = a {
            choice.allocator = match a.as_str() {
                "mimalloc" => Allocator::Mimalloc,
                "musl" => Allocator::Musl,
                other => {
                    return Err(Error::new(format!("unknown allocator `{other}`"))
                        .hint("use `mimalloc` or `musl`"));
                }
            };
        }
        let s = setting(
            self.string_functions
                .map(|a| format!("{a:?}").to_lowercase()),
            env::STRING_FUNCTIONS,
            "string-functions",
        );
        if let Some(s) = s {
            choice.strings = match s.as_str() {
                "fast" => StringFunctions::Fast,
                "musl" => StringFunctions::Musl,
                other => {
                    return Err(Error::new(format!("unknown string functions `{other}`"))
                        .hint("use `fast` or `musl`"));
                }
            };
        }
        Ok(choice)
    }

    /// Loads the project with the cargo that will build it.
    pub fn load_project(&self) -> Result<Project> {
        let cargo = toolchain::rust::candidates()
            .into_iter()
            .next()
            .map(|t| t.cargo);
        Project::load(&self.path, cargo.as_deref())
    }

    /// The validated plan.
    pub fn request(
        &self,
        project: Project,
        out_dir: Option<PathBuf>,
        strip: bool,
        quiet: bool,
    ) -> Result<BuildRequest> {
        let platforms = self.platforms(Some(&project))?;
        project.select_bins(&self.bins)?;
        let package = if self.bins.len() == 1 {
            project.package_of(&self.bins[0]).map(|p| p.name.clone())
        } else if project.members.len() == 1 {
            Some(project.members[0].name.clone())
        } else {
            None
        };
        let libc = self.libc(Some(&project), package.as_deref())?;
        let out_dir = match out_dir {
            Some(d) => d,
            None => self
                .target_dir
                .clone()
                .unwrap_or_else(|| project.target_directory.clone())
                .join("muslrust-chef")
                .join(self.profile().dir_name()),
        };
        let cwd = if self.path.is_dir() {
            self.path.clone()
        } else {
            self.path
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| ".".into())
        };
        Ok(BuildRequest {
            cwd,
            platforms,
            profile: self.profile(),
            features: self.features(),
            bins: self.bins.clone(),
            cargo: self.cargo_flags(quiet),
            strip,
            out_dir,
            libc,
            project,
        })
    }
}
