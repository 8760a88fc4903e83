//! Helpers for the image tests: a fake compiler (the seam in
//! `muslrust_chef::compile`) that writes a tiny, real, static ELF
//! executable instead of running cargo, so image tests need no toolchain.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use muslrust_chef::compile::{Artifact, BuildRequest, CargoFlags, Compiler, Features, Profile};
use muslrust_chef::error::Result;
use muslrust_chef::inspect;
use muslrust_chef::platform::Platform;
use muslrust_chef::project::Project;
use muslrust_chef::reporter::Reporter;
use muslrust_chef::toolchain::LibcChoice;

/// A minimal static executable for `platform` that exits 0 (one PT_LOAD,
/// no interpreter, no sections), followed by `tag` so tests can vary it.
pub fn stub_elf(platform: Platform, tag: &[u8]) -> Vec<u8> {
    let code: &[u8] = if platform == Platform::AMD64 {
        // xor edi,edi; mov eax,60; syscall
        &[0x31, 0xff, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05]
    } else {
        // mov x0,#0; mov x8,#93; svc #0
        &[
            0x00, 0x00, 0x80, 0xd2, 0xa8, 0x0b, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4,
        ]
    };
    let base: u64 = 0x400000;
    let total = (64 + 56 + code.len() + tag.len()) as u64;
    let mut v = Vec::new();
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    v.extend_from_slice(&platform.elf_machine().to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&(base + 64 + 56).to_le_bytes()); // entry
    v.extend_from_slice(&64u64.to_le_bytes()); // phoff
    v.extend_from_slice(&0u64.to_le_bytes()); // shoff
    v.extend_from_slice(&0u32.to_le_bytes()); // flags
    for x in [64u16, 56, 1, 64, 0, 0] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    v.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for x in [0u64, base, base, total, total, 0x1000] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(code);
    v.extend_from_slice(tag);
    v
}

/// The fake compiler: writes `stub_elf` (or a given file) for every
/// requested platform into `req.out_dir`.
pub struct FakeCompiler {
    pub tag: Vec<u8>,
    /// Use this file instead of a stub (e.g. a dynamic host binary).
    pub replace_with: Option<PathBuf>,
}

impl FakeCompiler {
    pub fn new(tag: &str) -> Self {
        FakeCompiler {
            tag: tag.as_bytes().to_vec(),
            replace_with: None,
        }
    }
}

impl Compiler for FakeCompiler {
    fn build(&self, req: &BuildRequest, _r: &dyn Reporter) -> Result<Vec<Artifact>> {
        let mut out = Vec::new();
        for &p in &req.platforms {
            let bin = req.bins[0].clone();
            let path = req.out_dir.join(p.oci_arch()).join(&bin);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            match &self.replace_with {
                Some(f) => {
                    std::fs::copy(f, &path).unwrap();
                }
                None => std::fs::write(&path, stub_elf(p, &self.tag)).unwrap(),
            }
            out.push(Artifact {
                bin: bin.clone(),
                package: bin,
                platform: p,
                report: inspect::inspect_file(&path)?,
                path,
            });
        }
        Ok(out)
    }
}

/// A build request for the project at `dir` (cargo metadata only).
pub fn request(dir: &Path, platforms: &[Platform], out_dir: &Path) -> BuildRequest {
    let project = Project::load(dir, None).expect("fixture project loads");
    BuildRequest {
        cwd: dir.to_path_buf(),
        platforms: platforms.to_vec(),
        profile: Profile::Release,
        features: Features::default(),
        bins: Vec::new(),
        cargo: CargoFlags::default(),
        strip: true,
        out_dir: out_dir.to_path_buf(),
        libc: LibcChoice::default(),
        project,
    }
}

/// A one-binary fixture project named `name` with package metadata.
pub const MANIFEST: &str = r#"[package]
name = "svc"
version = "1.2.3"
edition = "2021"
description = "A test service"
license = "MIT OR Apache-2.0"
repository = "https://example.com/svc"

[workspace]
"#;

/// Whether this process runs as root (umoci's owner checks need it).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
