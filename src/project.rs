//! `cargo metadata` -> [`Project`]: the workspace root, target directory,
//! workspace members and their binaries, and the `muslrust-chef` metadata
//! tables. Everything later stages need to know about the Cargo project,
//! as plain data.

use std::path::{Path, PathBuf};

use cargo_metadata::{MetadataCommand, TargetKind};

use crate::error::{Error, Result};

/// A binary target of a workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinTarget {
    pub name: String,
    pub package: String,
    pub required_features: Vec<String>,
}

/// A workspace member.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub manifest_path: PathBuf,
    pub description: Option<String>,
    pub license: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
    pub bins: Vec<String>,
    /// `[package.metadata.muslrust-chef]`, if present.
    pub chef_metadata: serde_json::Value,
}

/// What later stages need to know about a Cargo project.
#[derive(Debug, Clone)]
pub struct Project {
    pub workspace_root: PathBuf,
    pub target_directory: PathBuf,
    pub members: Vec<Package>,
    /// `[workspace.metadata.muslrust-chef]`, if present.
    pub workspace_chef_metadata: serde_json::Value,
}

impl Project {
    /// Reads the project at `path` (a directory or a `Cargo.toml`) with
    /// `cargo metadata --no-deps`, using `cargo` as the cargo binary.
    pub fn load(path: &Path, cargo: Option<&Path>) -> Result<Project> {
        let manifest = if path.is_dir() {
            path.join("Cargo.toml")
        } else {
            path.to_path_buf()
        };
        if !manifest.is_file() {
            return Err(Error::new(format!(
                "{} is not a Cargo project (no Cargo.toml)",
                path.display()
            ))
            .hint("run in a Cargo project, or pass --path DIR pointing at one"));
        }
        let mut cmd = MetadataCommand::new();
        cmd.manifest_path(&manifest).no_deps();
        if let Some(c) = cargo {
            cmd.cargo_path(c);
        }
        let md = cmd.exec().map_err(|e| {
            let text = match &e {
                cargo_metadata::Error::CargoMetadata { stderr } => stderr.trim().to_string(),
                other => other.to_string(),
            };
            Error::new(format!("could not read {}: {text}", manifest.display()))
                .hint("fix the manifest (cargo's message above names the file and line)")
        })?;
        let members = md
            .workspace_packages()
            .into_iter()
            .map(|p| Package {
                name: p.name.to_string(),
                version: p.version.to_string(),
                manifest_path: p.manifest_path.clone().into_std_path_buf(),
                description: p.description.clone(),
                license: p.license.clone(),
                repository: p.repository.clone(),
                homepage: p.homepage.clone(),
                bins: p
                    .targets
                    .iter()
                    .filter(|t| t.kind.contains(&TargetKind::Bin))
                    .map(|t| t.name.clone())
                    .collect(),
                chef_metadata: p
                    .metadata
                    .get("muslrust-chef")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect();
        Ok(Project {
            workspace_root: md.workspace_root.into_std_path_buf(),
            target_directory: md.target_directory.into_std_path_buf(),
            members,
            workspace_chef_metadata: md
                .workspace_metadata
                .get("muslrust-chef")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        })
    }

    /// Every binary target of every member, sorted by name.
    pub fn bins(&self) -> Vec<BinTarget> {
        let mut v: Vec<BinTarget> = self
            .members
            .iter()
            .flat_map(|p| {
                p.bins.iter().map(|b| BinTarget {
                    name: b.clone(),
                    package: p.name.clone(),
                    required_features: Vec::new(),
                })
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The binaries selected by `--bin` (all of them when `names` is empty).
    /// Errors name the available binaries.
    pub fn select_bins(&self, names: &[String]) -> Result<Vec<BinTarget>> {
        let all = self.bins();
        if all.is_empty() {
            return Err(Error::new(format!(
                "the project at {} has no binary target",
                self.workspace_root.display()
            ))
            .hint("add a `src/main.rs` or a `[[bin]]` section; muslrust-chef builds executables"));
        }
        if names.is_empty() {
            return Ok(all);
        }
        let mut out = Vec::new();
        for n in names {
            match all.iter().find(|b| &b.name == n) {
                Some(b) => out.push(b.clone()),
                None => {
                    let avail: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
                    return Err(Error::new(format!("no binary target named `{n}`"))
                        .hint(format!("available binaries: {}", avail.join(", "))));
                }
            }
        }
        Ok(out)
    }

    /// The member that owns binary `bin`.
    pub fn package_of(&self, bin: &str) -> Option<&Package> {
        self.members
            .iter()
            .find(|p| p.bins.iter().any(|b| b == bin))
    }

    /// A setting from `[package.metadata.muslrust-chef]` of `package`, else
    /// `[workspace.metadata.muslrust-chef]`.
    pub fn chef_setting(&self, package: Option<&str>, key: &str) -> Option<&serde_json::Value> {
        package
            .and_then(|name| self.members.iter().find(|p| p.name == name))
            .and_then(|p| p.chef_metadata.get(key))
            .or_else(|| self.workspace_chef_metadata.get(key))
    }
}
