//! The musl libc a build links: musl's own `libc.a`, or a private copy with
//! its malloc family replaced by mimalloc and (on x86_64) its
//! `memcpy`/`memmove`/`memset` replaced by ours.
//!
//! Why: musl's malloc takes one global lock, and its x86_64 `memcpy` is slow
//! for the small copies Rust makes all the time; together they make threaded
//! Rust programs several times slower than on glibc. Replacing the members
//! of `libc.a` fixes this at link time, for Rust and C code alike, without
//! touching the program's source. The private `libc.a` lives in the
//! toolchain's native directory, which the linker searches before musl's.
//!
//! Where the code comes from:
//! - mimalloc's C sources are embedded in the tool at build time from the
//!   `libmimalloc-sys` crate (a dependency; `build.rs` finds them through the
//!   `DEP_MIMALLOC_INCLUDE_DIR` that crate announces), so no copy lives in
//!   this repository and the tool works offline. They are compiled here
//!   with the target's C compiler (single-file build, `src/static.c`).
//! - the string functions are our own assembly (`libc/x86_64_string.S`).
//!   On aarch64 musl already ships optimized assembly `memcpy`/`memset`
//!   and we have no aarch64 hardware to prove a replacement faster (qemu
//!   timings say nothing), so aarch64 keeps musl's: see [`effective`].

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inspect;
use crate::platform::{Arch, Platform};
use crate::process;
use crate::reporter::Reporter;
use crate::toolchain::c::CToolchain;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/mimalloc_sources.rs"));
}
pub use embedded::MIMALLOC_VERSION;

/// Our x86_64 memcpy/memmove/memset (SSE2 baseline).
pub const X86_64_STRING_S: &str = include_str!("libc/x86_64_string.S");

/// The malloc implementation linked into musl's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    /// musl's own malloc (one global lock).
    Musl,
    /// mimalloc, linked in place of musl's malloc family.
    #[default]
    Mimalloc,
}

/// The memcpy/memmove/memset implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StringFunctions {
    /// musl's own.
    Musl,
    /// muslrust-chef's fast implementation.
    #[default]
    Fast,
}

/// The libc variant a build links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct LibcChoice {
    pub allocator: Allocator,
    pub strings: StringFunctions,
}

impl LibcChoice {
    /// Whether this is musl's unmodified libc.
    pub fn is_stock(self) -> bool {
        self.allocator == Allocator::Musl && self.strings == StringFunctions::Musl
    }
}

/// What `choice` really links on `platform`: on aarch64 the fast string
/// functions are musl's own optimized assembly, so `Fast` means musl's there.
pub fn effective(platform: Platform, choice: LibcChoice) -> LibcChoice {
    match platform.arch {
        Arch::X86_64 => choice,
        Arch::Aarch64 => LibcChoice {
            allocator: choice.allocator,
            strings: StringFunctions::Musl,
        },
    }
}

/// Bump when the way the archive is put together changes.
const RECIPE_VERSION: u32 = 2;

/// A key for caches of assembled libraries: changes whenever the embedded
/// mimalloc or our string functions change.
pub fn cache_key() -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    RECIPE_VERSION.hash(&mut h);
    X86_64_STRING_S.hash(&mut h);
    inspect::MIMALLOC_MARKER.hash(&mut h);
    COMPILE_FLAGS.hash(&mut h);
    REMOVED_ALLOCATOR_MEMBERS.hash(&mut h);
    for (name, bytes) in embedded::MIMALLOC_SOURCES {
        name.hash(&mut h);
        bytes.hash(&mut h);
    }
    format!("mimalloc-{MIMALLOC_VERSION}-{:016x}", h.finish())
}

/// musl's members that define the malloc family (mallocng and the
/// `lite_malloc` used before the first free), plus `strdup`/`strndup`, which
/// mimalloc defines too. Some names occur twice (a wrapper and mallocng's).
const REMOVED_ALLOCATOR_MEMBERS: &[&str] = &[
    "malloc.lo",
    "free.lo",
    "realloc.lo",
    "calloc.lo",
    "libc_calloc.lo",
    "lite_malloc.lo",
    "aligned_alloc.lo",
    "donate.lo",
    "malloc_usable_size.lo",
    "memalign.lo",
    "posix_memalign.lo",
    "reallocarray.lo",
    "valloc.lo",
    "strdup.lo",
    "strndup.lo",
];

/// musl's string members that ours replace.
const REMOVED_STRING_MEMBERS: &[&str] = &["memcpy.lo", "memmove.lo", "memset.lo", "memcmp.lo"];

/// Flags for mimalloc: its malloc override (`malloc`, `free`, ... and the
/// `__libc_*` names musl's internals call), musl mode, release build.
const COMPILE_FLAGS: &[&str] = &[
    "-O3",
    "-DMI_MALLOC_OVERRIDE",
    "-DMI_LIBC_MUSL=1",
    "-DMI_BUILD_RELEASE",
    "-DNDEBUG",
    "-DMI_DEBUG=0",
    // No transparent huge pages on mimalloc's arenas: with Linux's usual
    // `madvise` THP setting each thread's first touch otherwise commits a
    // whole 2 MiB page. Measured on the example service: peak RSS 1.95x
    // glibc's with THP, 0.70x without, same requests/s (bench/service).
    // `MIMALLOC_ALLOW_THP=1` turns it back on at run time.
    "-DMI_DEFAULT_ALLOW_THP=0",
    "-fno-builtin-malloc",
    "-ftls-model=initial-exec",
    "-ffunction-sections",
    "-fdata-sections",
    "-Wno-error=date-time",
];

/// Writes a replacement `libc.a` for `choice` into `dir` (nothing when the
/// platform's effective choice is the stock libc).
pub fn assemble(
    c: &CToolchain,
    platform: Platform,
    choice: LibcChoice,
    dir: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
    let choice = effective(platform, choice);
    if choice.is_stock() {
        return Ok(());
    }
    let build = dir.join(".libc-build");
    std::fs::create_dir_all(&build).map_err(|e| Error::io("creating", &build, e))?;
    let mut objects = Vec::new();
    let mut remove: Vec<&str> = Vec::new();
    if choice.allocator == Allocator::Mimalloc {
        reporter.step(&format!(
            "compiling mimalloc {} for {platform}",
            version_string()
        ));
        objects.push(compile_mimalloc(c, &build)?);
        remove.extend(REMOVED_ALLOCATOR_MEMBERS);
    }
    if choice.strings == StringFunctions::Fast {
        objects.push(compile_strings(c, &build)?);
        remove.extend(REMOVED_STRING_MEMBERS);
    }
    let libc_a = dir.join("libc.a");
    std::fs::copy(&c.libc_a, &libc_a).map_err(|e| Error::io("copying", &c.libc_a, e))?;
    make_writable(&libc_a)?;
    remove_members(c, &libc_a, &remove)?;
    process::run_captured(Command::new(&c.ar).arg("rs").arg(&libc_a).args(&objects))?;
    check_links(c, choice, dir, &build).map_err(|e| {
        Error::new(format!(
            "the replacement libc.a for {platform} does not link a C program"
        ))
        .source(e)
        .hint(
            "use --allocator musl --string-functions musl to link musl's own libc, and report this",
        )
    })?;
    std::fs::remove_dir_all(&build).map_err(|e| Error::io("removing", &build, e))?;
    Ok(())
}

/// mimalloc's version as "major.minor.patch".
pub fn version_string() -> String {
    let v = MIMALLOC_VERSION;
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io("writing", path, e))
}

fn compile_mimalloc(c: &CToolchain, build: &Path) -> Result<std::path::PathBuf> {
    let src = build.join("mimalloc");
    for (name, bytes) in embedded::MIMALLOC_SOURCES {
        write_file(&src.join(name), bytes)?;
    }
    // mimalloc's single-file build plus our marker, placed in the section
    // that holds `free` (gcc's -ffunction-sections names it after
    // `mi_free`, which `free` aliases), so the marker is linked exactly when
    // this `free` is, and survives --gc-sections and strip. `check_links`
    // proves it does.
    let marker = std::str::from_utf8(inspect::MIMALLOC_MARKER).expect("ASCII marker");
    let wrapper = src.join("src/muslrust_chef_mimalloc.c");
    write_file(
        &wrapper,
        format!(
            "#include \"static.c\"\n__asm__(\".pushsection .text.mi_free,\\\"ax\\\"\\n\\t.ascii \\\"{marker}\\\\0\\\"\\n\\t.popsection\");\n"
        )
        .as_bytes(),
    )?;
    let obj = build.join("muslrust_chef_mimalloc.o");
    process::run_captured(
        Command::new(&c.cc)
            .arg("-c")
            .args(COMPILE_FLAGS)
            .arg("-I")
            .arg(src.join("include"))
            .arg("-I")
            .arg(src.join("src"))
            .arg(&wrapper)
            .arg("-o")
            .arg(&obj),
    )?;
    Ok(obj)
}

fn compile_strings(c: &CToolchain, build: &Path) -> Result<std::path::PathBuf> {
    let src = build.join("muslrust_chef_string.S");
    write_file(&src, X86_64_STRING_S.as_bytes())?;
    let obj = build.join("muslrust_chef_string.o");
    process::run_captured(Command::new(&c.cc).args(["-c", "-o"]).arg(&obj).arg(&src))?;
    Ok(obj)
}

/// Deletes every member named in `names` (`ar d` removes one member per name
/// and call, and some names occur twice).
fn remove_members(c: &CToolchain, archive: &Path, names: &[&str]) -> Result<()> {
    for _ in 0..4 {
        let listing = process::stdout_of(Command::new(&c.ar).arg("t").arg(archive))?;
        let present: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| listing.lines().any(|l| l.trim() == *n))
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        process::run_captured(Command::new(&c.ar).arg("d").arg(archive).args(&present))?;
    }
    Err(Error::new(format!(
        "could not remove musl's members from {}",
        archive.display()
    )))
}

/// Links a small static C program against the new archive, so a missing
/// symbol shows up here, with the archive named, rather than in the user's
/// build.
fn check_links(c: &CToolchain, choice: LibcChoice, dir: &Path, build: &Path) -> Result<()> {
    let src = build.join("check.c");
    write_file(
        &src,
        b"#include <stdlib.h>\n#include <string.h>\n#include <spawn.h>\n#include <time.h>\n\
          int main(int argc, char **argv) {\n\
            char *p = malloc(argc * 100); memset(p, 1, 100); p = realloc(p, 1000);\n\
            char *q = strdup(argv[0]); memmove(p, q, strlen(q)); free(q);\n\
            void *a = aligned_alloc(64, 128); free(a);\n\
            posix_spawn_file_actions_t fa; posix_spawn_file_actions_init(&fa);\n\
            posix_spawn_file_actions_addclose(&fa, 3); posix_spawn_file_actions_destroy(&fa);\n\
            time_t t = 0; (void)localtime(&t); free(p); return 0; }\n",
    )?;
    let out = process::run_captured(
        Command::new(&c.cc)
            .arg("-static")
            .arg("-L")
            .arg(dir)
            .arg(&src)
            .arg("-o")
            .arg(build.join("check"))
            .arg("-lgcc")
            .arg("-Wl,--trace"),
    )?;
    let trace = String::from_utf8_lossy(&out.stdout);
    let ours = dir.join("libc.a");
    if !trace.contains(&*ours.to_string_lossy()) {
        return Err(Error::new(format!(
            "the linker did not pick {} before musl's libc.a",
            ours.display()
        )));
    }
    let exe = build.join("check");
    let report = inspect::inspect_file(&exe)?;
    if choice.allocator == Allocator::Mimalloc
        && report.allocator != inspect::AllocatorKind::Mimalloc
    {
        return Err(Error::new(format!(
            "{} does not carry mimalloc's marker",
            exe.display()
        )));
    }
    if choice.strings == StringFunctions::Fast
        && report.string_functions != inspect::StringFunctionsKind::Fast
    {
        return Err(Error::new(format!(
            "{} does not carry the fast string functions' marker",
            exe.display()
        )));
    }
    Ok(())
}

fn make_writable(p: &Path) -> Result<()> {
    let mut perm = std::fs::metadata(p)
        .map_err(|e| Error::io("reading", p, e))?
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(p, perm).map_err(|e| Error::io("changing permissions of", p, e))
}

/// Checks that the binary at `path` (described by `report`, read before any
/// strip) links what `choice` asked for on `platform`; a crate with its own
/// `#[global_allocator]` passes the allocator check (its Rust allocations
/// never reach malloc).
pub fn verify_linked(
    path: &Path,
    report: &inspect::BinaryReport,
    platform: Platform,
    choice: LibcChoice,
) -> Result<()> {
    use inspect::{AllocatorKind, StringFunctionsKind};
    let want = effective(platform, choice);
    let alloc_ok = match want.allocator {
        Allocator::Mimalloc => report.allocator == AllocatorKind::Mimalloc,
        // A crate that links the mimalloc crate keeps musl's malloc beside
        // it, and inspect reports musl's.
        Allocator::Musl => report.allocator != AllocatorKind::Mimalloc,
    } || report.rust_global_allocator == Some(true);
    if !alloc_ok {
        return Err(Error::new(format!(
            "{} links the {} allocator, but {} was asked for",
            path.display(),
            serde_json::to_value(report.allocator)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            allocator_name(want.allocator),
        ))
        .hint(
            "something links its own libc.a or malloc (a -sys crate, RUSTFLAGS with -L, or a linker override); `muslrust-chef inspect` on the binary shows what it carries",
        ));
    }
    let strings_ok = match want.strings {
        StringFunctions::Fast => report.string_functions == StringFunctionsKind::Fast,
        StringFunctions::Musl => report.string_functions != StringFunctionsKind::Fast,
    };
    if !strings_ok {
        return Err(Error::new(format!(
            "{} does not link the {} string functions that were asked for",
            path.display(),
            match want.strings {
                StringFunctions::Fast => "fast",
                StringFunctions::Musl => "musl",
            }
        ))
        .hint(
            "something links its own libc.a or memcpy (a -sys crate, RUSTFLAGS with -L, or a linker override); `muslrust-chef inspect` on the binary shows what it carries",
        ));
    }
    Ok(())
}

fn allocator_name(a: Allocator) -> &'static str {
    match a {
        Allocator::Mimalloc => "mimalloc",
        Allocator::Musl => "musl",
    }
}
