//! Reads the few keys of the user's cargo configuration that muslrust-chef
//! must respect so that it adds to them instead of replacing them:
//! `build.rustflags`, `target.<triple>.rustflags` and `target.<triple>.linker`.
//!
//! Cargo has no stable command to print its merged configuration, and the
//! keys we need are simple, so the files are read here, in cargo's order
//! (the current directory up to the root, then `$CARGO_HOME`).

use std::path::{Path, PathBuf};

use crate::platform::env_triple;

/// The parts of the cargo configuration that change how we pass flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// `build.rustflags` (files and `CARGO_BUILD_RUSTFLAGS`), in order.
    pub build_rustflags: Vec<String>,
    /// Whether any `target.<triple>.rustflags` or `target.'cfg(..)'.rustflags`
    /// applies to the triple (then cargo ignores `build.rustflags`).
    pub has_target_rustflags: bool,
    /// `target.<triple>.linker` or `CARGO_TARGET_<TRIPLE>_LINKER`.
    pub linker: Option<String>,
    /// The files that were read, for messages.
    pub files: Vec<PathBuf>,
}

/// The cargo config files cargo would read when run in `cwd`, highest
/// precedence first.
pub fn config_files(cwd: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        for name in ["config.toml", "config"] {
            let f = d.join(".cargo").join(name);
            if f.is_file() {
                files.push(f);
                break;
            }
        }
        dir = d.parent();
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    if let Some(home) = cargo_home {
        for name in ["config.toml", "config"] {
            let f = home.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
                break;
            }
        }
    }
    files
}

fn string_list(item: &toml_edit::Item) -> Vec<String> {
    if let Some(s) = item.as_str() {
        return s.split_whitespace().map(str::to_string).collect();
    }
    item.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the configuration that applies when cargo runs in `cwd` for
/// `triple`. Unreadable or malformed files are skipped (cargo itself will
/// report them when it runs).
pub fn read(cwd: &Path, triple: &str) -> UserConfig {
    read_with_env(cwd, triple, &|k| std::env::var(k).ok())
}

/// [`read`] with the environment given as a lookup function.
pub fn read_with_env(cwd: &Path, triple: &str, env: &dyn Fn(&str) -> Option<String>) -> UserConfig {
    let mut cfg = UserConfig::default();
    let files = config_files(cwd);
    // Lowest precedence first, so later files (closer to cwd) come last,
    // which is how cargo joins arrays.
    for f in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
            continue;
        };
        cfg.files.push(f.clone());
        if let Some(flags) = doc.get("build").and_then(|b| b.get("rustflags")) {
            cfg.build_rustflags.extend(string_list(flags));
        }
        if let Some(targets) = doc.get("target").and_then(|t| t.as_table_like()) {
            for (key, table) in targets.iter() {
                let applies = key == triple || key.starts_with("cfg(");
                if !applies {
                    continue;
                }
                if table.get("rustflags").is_some() {
                    cfg.has_target_rustflags = true;
                }
                if let Some(l) = table.get("linker").and_then(|l| l.as_str())
                    && key == triple
                {
                    cfg.linker = Some(l.to_string());
                }
            }
        }
    }
    if let Some(v) = env("CARGO_BUILD_RUSTFLAGS") {
        cfg.build_rustflags = v.split_whitespace().map(str::to_string).collect();
    }
    let et = env_triple(triple);
    if env(&format!("CARGO_TARGET_{et}_RUSTFLAGS")).is_some() {
        cfg.has_target_rustflags = true;
    }
    if let Some(l) = env(&format!("CARGO_TARGET_{et}_LINKER")) {
        cfg.linker = Some(l);
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_build_and_target_settings_nearest_last() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("ws/app");
        std::fs::create_dir_all(inner.join(".cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.cargo")).unwrap();
        std::fs::write(
            dir.path().join("ws/.cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"outer\"]\n",
        )
        .unwrap();
        std::fs::write(
            inner.join(".cargo/config.toml"),
            "[build]\nrustflags = \"--cfg inner\"\n[target.aarch64-unknown-linux-musl]\nlinker = \"my-ld\"\n",
        )
        .unwrap();
        let cfg = read(&inner, "aarch64-unknown-linux-musl");
        assert!(cfg.build_rustflags.ends_with(&[
            "--cfg".to_string(),
            "outer".into(),
            "--cfg".into(),
            "inner".into()
        ]));
        assert_eq!(cfg.linker.as_deref(), Some("my-ld"));
        assert!(!cfg.has_target_rustflags);
        let other = read(&inner, "x86_64-unknown-linux-musl");
        assert_eq!(other.linker, None);
    }
}
