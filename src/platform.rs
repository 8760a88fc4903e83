//! Platforms are named the Docker way (`linux/amd64`) at the edges and as
//! Rust target triples inside. This module is the one place that maps
//! between the two, and knows each platform's ELF machine and C toolchain
//! prefix.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A CPU architecture muslrust-chef builds static binaries for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// A `linux/<arch>` platform with a musl target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub arch: Arch,
}

impl Platform {
    pub const AMD64: Platform = Platform { arch: Arch::X86_64 };
    pub const ARM64: Platform = Platform {
        arch: Arch::Aarch64,
    };
    /// Every platform we support, in a stable order.
    pub const ALL: [Platform; 2] = [Platform::AMD64, Platform::ARM64];

    /// The platform of the machine this program runs on, if supported.
    pub fn host() -> Option<Platform> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Platform::AMD64),
            "aarch64" => Some(Platform::ARM64),
            _ => None,
        }
    }

    /// The musl target triple, e.g. `x86_64-unknown-linux-musl`.
    pub fn triple(self) -> &'static str {
        match self.arch {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The platform for a musl triple, if it is one we support.
    pub fn from_triple(triple: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.triple() == triple)
    }

    /// The OCI `architecture` value (`amd64`, `arm64`).
    pub fn oci_arch(self) -> &'static str {
        match self.arch {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The OCI `os` value.
    pub fn oci_os(self) -> &'static str {
        "linux"
    }

    /// The OCI `variant` value, where one is conventional (`v8` for arm64).
    pub fn oci_variant(self) -> Option<&'static str> {
        match self.arch {
            Arch::X86_64 => None,
            Arch::Aarch64 => Some("v8"),
        }
    }

    /// The GNU architecture name (`x86_64`, `aarch64`), used by C toolchains
    /// and musl's directory names (`/usr/lib/x86_64-linux-musl`).
    pub fn gnu_arch(self) -> &'static str {
        match self.arch {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The ELF `e_machine` value binaries for this platform carry.
    pub fn elf_machine(self) -> u16 {
        match self.arch {
            Arch::X86_64 => object::elf::EM_X86_64.0,
            Arch::Aarch64 => object::elf::EM_AARCH64.0,
        }
    }

    /// The Debian architecture name (`amd64`, `arm64`).
    pub fn debian_arch(self) -> &'static str {
        self.oci_arch()
    }

    /// The triple in the form cargo uses for environment variables
    /// (`X86_64_UNKNOWN_LINUX_MUSL`).
    pub fn env_triple(self) -> String {
        env_triple(self.triple())
    }
}

/// A triple in cargo's environment-variable form (upper case, `_` for `-`).
pub fn env_triple(triple: &str) -> String {
    triple.to_ascii_uppercase().replace(['-', '.'], "_")
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.oci_arch())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let found = match t {
            "linux/amd64" | "amd64" | "x86_64" | "x86_64-unknown-linux-musl" => Platform::AMD64,
            "linux/arm64"
            | "linux/arm64/v8"
            | "arm64"
            | "aarch64"
            | "aarch64-unknown-linux-musl" => Platform::ARM64,
            _ => {
                return Err(Error::new(format!("unknown platform `{s}`"))
                    .hint("supported platforms: linux/amd64, linux/arm64 (comma-separated)"));
            }
        };
        Ok(found)
    }
}

/// Parses a comma-separated platform list, keeping order, dropping repeats.
pub fn parse_list(list: &str) -> Result<Vec<Platform>, Error> {
    let mut out = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let p: Platform = part.parse()?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(
            Error::new("no platform given").hint("use e.g. --platform linux/amd64,linux/arm64")
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_names_and_triples() {
        assert_eq!("linux/amd64".parse::<Platform>().unwrap(), Platform::AMD64);
        assert_eq!(
            "aarch64-unknown-linux-musl".parse::<Platform>().unwrap(),
            Platform::ARM64
        );
        assert_eq!(
            parse_list("linux/arm64, linux/amd64,linux/arm64").unwrap(),
            vec![Platform::ARM64, Platform::AMD64]
        );
        let err = "linux/riscv64".parse::<Platform>().unwrap_err();
        assert!(err.message().contains("linux/riscv64"));
        assert!(err.hint_text().unwrap().contains("linux/arm64"));
    }

    #[test]
    fn env_triple_form() {
        assert_eq!(Platform::ARM64.env_triple(), "AARCH64_UNKNOWN_LINUX_MUSL");
        assert_eq!(Platform::ARM64.to_string(), "linux/arm64");
    }
}
