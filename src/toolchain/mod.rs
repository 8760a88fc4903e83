//! Everything a musl target needs besides cargo: a Rust toolchain with a
//! std for the target (installed, or built once into a cached sysroot), a C
//! compiler used as the linker, an unwinder and the libc variant. The
//! result, [`Toolchain`], configures a cargo command; it never edits the
//! user's configuration: their RUSTFLAGS and `.cargo/config.toml` settings
//! are kept and ours are added to them.

pub mod c;
pub mod libc;
pub mod rust;
pub mod sysroot;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo_config;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::process;
use crate::reporter::Reporter;

pub use c::CToolchain;
pub use libc::{Allocator, LibcChoice, StringFunctions};
pub use rust::{RustToolchain, StdStrategy};

/// Bump when the layout of the native library directory changes.
const NATIVE_FORMAT: u32 = 1;

/// A ready-to-use toolchain for one platform.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub platform: Platform,
    pub rust: RustToolchain,
    pub std: StdStrategy,
    /// The sysroot to pass to rustc (only when std was built from source).
    pub sysroot: Option<PathBuf>,
    pub c: CToolchain,
    /// Our private native library directory (libunwind.a, maybe libc.a),
    /// searched before musl's own.
    pub native_dir: PathBuf,
    pub libc: LibcChoice,
}

/// Finds (and where needed builds) the toolchain for `platform`.
pub fn prepare(platform: Platform, libc: LibcChoice, reporter: &dyn Reporter) -> Result<Toolchain> {
    let triple = platform.triple();
    let (rust, std) = rust::select(triple)?;
    let c = c::detect(platform)?;
    let sysroot = match &std {
        StdStrategy::Installed => None,
        StdStrategy::BuildFromSource { library } => {
            Some(sysroot::ensure(&rust, library, triple, reporter)?)
        }
    };
    let unwind = c::find_unwind(platform, Some(&rust.sysroot))?;
    let native_dir = native_dir(platform, &c, &unwind, libc, reporter)?;
    Ok(Toolchain {
        platform,
        rust,
        std,
        sysroot,
        c,
        native_dir,
        libc,
    })
}

fn file_stamp(path: &Path, h: &mut impl Hasher) {
    path.hash(h);
    if let Ok(m) = std::fs::metadata(path) {
        m.len().hash(h);
        m.modified().ok().hash(h);
    }
}

/// Assembles (once, cached by inputs) the private native library directory:
/// `libunwind.a` with a `__fprintf_chk` shim (Debian's LLVM libunwind is
/// built against glibc's fortified stdio, which musl lacks), and the
/// replacement `libc.a` for `libc`.
fn native_dir(
    platform: Platform,
    c: &CToolchain,
    unwind: &Path,
    libc: LibcChoice,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    NATIVE_FORMAT.hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    platform.hash(&mut h);
    file_stamp(&c.cc, &mut h);
    file_stamp(&c.libc_a, &mut h);
    file_stamp(unwind, &mut h);
    libc.hash(&mut h);
    libc::cache_key().hash(&mut h);
    let key = format!("{:016x}", h.finish());
    let base = crate::env::cache_dir()
        .join("native")
        .join(platform.triple());
    let dir = base.join(&key);
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&base).map_err(|e| Error::io("creating", &base, e))?;
    let _lock = lock_file(&base.join(format!(".{key}.lock")))?;
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    reporter.step(&format!("assembling native libraries for {platform}"));
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&base)
        .map_err(|e| Error::io("creating a directory in", &base, e))?;
    let t = tmp.path();
    let shim_c = t.join("fprintf_chk.c");
    std::fs::write(
        &shim_c,
        "#include <stdarg.h>\n#include <stdio.h>\n\
         int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {\n\
         (void)flag; va_list ap; va_start(ap, fmt); int r = vfprintf(f, fmt, ap); va_end(ap); return r; }\n",
    )
    .map_err(|e| Error::io("writing", &shim_c, e))?;
    let shim_o = t.join("fprintf_chk.o");
    process::run_captured(
        Command::new(&c.cc)
            .args(["-c", "-O2", "-fPIC", "-o"])
            .arg(&shim_o)
            .arg(&shim_c),
    )?;
    let unwind_a = t.join("libunwind.a");
    std::fs::copy(unwind, &unwind_a).map_err(|e| Error::io("copying", unwind, e))?;
    set_writable(&unwind_a)?;
    process::run_captured(Command::new(&c.ar).arg("rs").arg(&unwind_a).arg(&shim_o))?;
    std::fs::remove_file(&shim_o).ok();
    std::fs::remove_file(&shim_c).ok();
    libc::assemble(c, platform, libc, t, reporter)?;
    std::fs::write(t.join(".complete"), key.as_bytes())
        .map_err(|e| Error::io("writing", &t.join(".complete"), e))?;
    let kept = tmp.keep();
    if std::fs::rename(&kept, &dir).is_err() {
        // Another process finished the same directory first: use theirs.
        std::fs::remove_dir_all(&kept).ok();
        if !dir.join(".complete").is_file() {
            return Err(Error::new(format!("could not create {}", dir.display())));
        }
    }
    Ok(dir)
}

/// Takes an exclusive lock on `path` (created if needed) until the returned
/// file is dropped.
pub(crate) fn lock_file(path: &Path) -> Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))?;
    f.lock().map_err(|e| Error::io("locking", path, e))?;
    Ok(f)
}

fn set_writable(p: &Path) -> Result<()> {
    let mut perm = std::fs::metadata(p)
        .map_err(|e| Error::io("reading", p, e))?
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(p, perm).map_err(|e| Error::io("changing permissions of", p, e))
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

impl Toolchain {
    /// The rustflags we add for the target (after the user's own).
    pub fn our_rustflags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(sr) = &self.sysroot {
            f.push(format!("--sysroot={}", sr.display()));
        }
        // Our crt objects, libc and unwinder come from the C toolchain.
        f.push("-Clink-self-contained=no".into());
        // musl-gcc turns the default static-pie into a dynamic PIE that
        // wants ld-musl; plain static executables are what we promise.
        f.push("-Crelocation-model=static".into());
        f.push(format!("-Lnative={}", self.native_dir.display()));
        f.push(format!("-Clink-arg=-L{}", self.native_dir.display()));
        // C code (mimalloc, `cc` crates) may need libgcc's helpers.
        f.push("-Clink-arg=-lgcc".into());
        f
    }

    /// A cargo command for `subcommand` (`build`, `check`, ...) run in
    /// `cwd`, configured for this toolchain's target. The caller adds the
    /// remaining arguments.
    pub fn cargo_command(&self, subcommand: &str, cwd: &Path) -> Command {
        self.cargo_command_with_env(subcommand, cwd, &|k| std::env::var(k).ok())
    }

    /// [`Toolchain::cargo_command`] with the environment given as a lookup
    /// function (so the merging rules can be tested without touching the
    /// process environment).
    pub fn cargo_command_with_env(
        &self,
        subcommand: &str,
        cwd: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Command {
        let triple = self.platform.triple();
        let mut cmd = Command::new(&self.rust.cargo);
        cmd.current_dir(cwd);
        cmd.env("RUSTC", &self.rust.rustc);
        cmd.arg(subcommand).arg("--target").arg(triple);
        let user = cargo_config::read_with_env(cwd, triple, env);
        if user.linker.is_none() {
            cmd.arg("--config").arg(format!(
                "target.{triple}.linker={}",
                toml_str(&self.c.cc.to_string_lossy())
            ));
        }
        let ours = self.our_rustflags();
        let env_flags = env(crate::env::CARGO_ENCODED_RUSTFLAGS)
            .map(|v| {
                v.split('\x1f')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .or_else(|| {
                env(crate::env::RUSTFLAGS)
                    .map(|v| v.split_whitespace().map(str::to_string).collect())
            });
        match env_flags {
            // The user's RUSTFLAGS win over any config in cargo, so ours must
            // travel with them.
            Some(mut flags) => {
                flags.extend(ours);
                cmd.env_remove(crate::env::RUSTFLAGS);
                cmd.env(crate::env::CARGO_ENCODED_RUSTFLAGS, flags.join("\x1f"));
            }
            None => {
                let mut flags = Vec::new();
                // Setting target rustflags makes cargo ignore build.rustflags,
                // so carry those over unless target-level flags exist.
                if !user.has_target_rustflags {
                    flags.extend(user.build_rustflags.iter().cloned());
                }
                flags.extend(ours);
                let arr: Vec<String> = flags.iter().map(|f| toml_str(f)).collect();
                cmd.arg("--config")
                    .arg(format!("target.{triple}.rustflags=[{}]", arr.join(",")));
            }
        }
        let cc_var = format!("CC_{}", triple.replace('-', "_"));
        if env(&cc_var).is_none() && env(&format!("CC_{triple}")).is_none() {
            cmd.env(&cc_var, &self.c.cc);
        }
        let ar_var = format!("AR_{}", triple.replace('-', "_"));
        if env(&ar_var).is_none() && env(&format!("AR_{triple}")).is_none() {
            cmd.env(&ar_var, &self.c.ar);
        }
        if env(crate::env::CARGO_NET_GIT_FETCH_WITH_CLI).is_none() {
            cmd.env(crate::env::CARGO_NET_GIT_FETCH_WITH_CLI, "true");
        }
        cmd
    }

    /// A short description for progress lines and `doctor`.
    pub fn describe(&self) -> String {
        let std = match &self.std {
            StdStrategy::Installed => "installed std".to_string(),
            StdStrategy::BuildFromSource { .. } => "std built from source (cached)".to_string(),
        };
        format!(
            "{} with {std}, linker {}",
            self.rust.describe(),
            self.c.cc.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fake(sysroot: Option<&str>) -> Toolchain {
        Toolchain {
            platform: Platform::ARM64,
            rust: RustToolchain {
                rustc: "/x/rustc".into(),
                cargo: "/x/cargo".into(),
                release: "1.0.0".into(),
                commit: "abc".into(),
                sysroot: "/x".into(),
            },
            std: StdStrategy::Installed,
            sysroot: sysroot.map(PathBuf::from),
            c: CToolchain {
                cc: "/usr/bin/aarch64-linux-musl-gcc".into(),
                cc_from_env: false,
                ar: "/usr/bin/ar".into(),
                strip: None,
                libc_a: "/usr/lib/aarch64-linux-musl/libc.a".into(),
            },
            native_dir: "/cache/native".into(),
            libc: LibcChoice::default(),
        }
    }

    type Parts = (Vec<String>, HashMap<String, Option<String>>);

    fn parts(cmd: &Command) -> Parts {
        let args = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let envs = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        (args, envs)
    }

    #[test]
    fn defaults_git_fetch_with_cli_but_user_value_wins() {
        let dir = tempfile::tempdir().unwrap();
        let tc = fake(None);
        let (_, envs) = parts(&tc.cargo_command_with_env("build", dir.path(), &|_| None));
        assert_eq!(
            envs["CARGO_NET_GIT_FETCH_WITH_CLI"].as_deref(),
            Some("true")
        );
        let user = |k: &str| (k == "CARGO_NET_GIT_FETCH_WITH_CLI").then(|| "false".to_string());
        let (_, envs) = parts(&tc.cargo_command_with_env("build", dir.path(), &user));
        assert!(
            !envs.contains_key("CARGO_NET_GIT_FETCH_WITH_CLI"),
            "inherited, not overridden"
        );
    }

    #[test]
    fn user_rustflags_env_is_extended_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tc = fake(Some("/cache/sysroot"));
        let user = |k: &str| (k == "RUSTFLAGS").then(|| "--cfg mine -Copt-level=1".to_string());
        let (args, envs) = parts(&tc.cargo_command_with_env("build", dir.path(), &user));
        let enc = envs["CARGO_ENCODED_RUSTFLAGS"].clone().unwrap();
        let flags: Vec<&str> = enc.split('\x1f').collect();
        assert_eq!(&flags[..3], ["--cfg", "mine", "-Copt-level=1"]);
        assert!(flags.contains(&"--sysroot=/cache/sysroot"));
        assert_eq!(
            envs["RUSTFLAGS"], None,
            "RUSTFLAGS moves into the encoded form"
        );
        assert!(!args.iter().any(|a| a.contains("rustflags")));
    }

    #[test]
    fn config_build_rustflags_carried_into_target_rustflags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"fromfile\"]\n",
        )
        .unwrap();
        let tc = fake(None);
        let (args, _) = parts(&tc.cargo_command_with_env("build", dir.path(), &|_| None));
        let rf = args
            .iter()
            .find(|a| a.starts_with("target.aarch64-unknown-linux-musl.rustflags="))
            .expect("target rustflags passed with --config");
        assert!(rf.contains("\"--cfg\",\"fromfile\""), "{rf}");
        assert!(rf.contains("-Clink-self-contained=no"), "{rf}");
        assert!(
            args.iter()
                .any(|a| a.starts_with("target.aarch64-unknown-linux-musl.linker="))
        );
        // A linker the user configured is left alone.
        let user = |k: &str| {
            (k == "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER").then(|| "my-ld".to_string())
        };
        let (args, _) = parts(&tc.cargo_command_with_env("build", dir.path(), &user));
        assert!(!args.iter().any(|a| a.contains(".linker=")));
    }
}
