//! ELF facts about a binary: architecture, whether it is static (no
//! interpreter, no needed libraries), size, stripped or not, and which
//! allocator and string functions are linked in, read from symbols and
//! markers rather than from what a build asked for.

use std::path::Path;

use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, Object, ObjectSymbol};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::platform::Platform;

/// The allocator a binary carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocatorKind {
    /// musl's own malloc (mallocng or oldmalloc).
    Musl,
    Mimalloc,
    Jemalloc,
    /// glibc's malloc (dynamically or statically linked glibc).
    Glibc,
    /// Symbols are gone (stripped) and no marker was found.
    Unknown,
}

/// The memcpy family a binary carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StringFunctionsKind {
    Musl,
    /// muslrust-chef's fast implementation.
    Fast,
    Glibc,
    Unknown,
}

/// Facts about an ELF executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinaryReport {
    /// The platform whose ELF machine the file has (None: another machine).
    pub platform: Option<Platform>,
    /// The raw ELF `e_machine`.
    pub machine: u16,
    /// No `PT_INTERP` and no `DT_NEEDED`.
    pub is_static: bool,
    /// Position-independent (static-pie when static).
    pub pie: bool,
    /// The `PT_INTERP` path, when there is one.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries.
    pub needed: Vec<String>,
    pub size: u64,
    /// No `.symtab`.
    pub stripped: bool,
    pub allocator: AllocatorKind,
    /// The program installs its own Rust `#[global_allocator]`: Rust
    /// allocations then do not go through malloc.
    pub rust_global_allocator: Option<bool>,
    pub string_functions: StringFunctionsKind,
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A marker string the fast string functions embed (survives `strip`).
pub const FAST_STRINGS_MARKER: &[u8] = b"muslrust-chef fast string functions";

/// A marker string linked next to `free` when mimalloc replaces musl's
/// malloc inside libc (survives `strip`; the mimalloc crate used as a Rust
/// `#[global_allocator]` does not carry it).
pub const MIMALLOC_MARKER: &[u8] = b"muslrust-chef mimalloc in libc";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Reads the facts about the ELF file at `path`.
pub fn inspect_file(path: &Path) -> Result<BinaryReport> {
    let data = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    inspect_bytes(&data).map_err(|e| {
        Error::new(format!("{}: {}", path.display(), e.message()))
            .hint("pass an ELF executable (e.g. one from target/muslrust-chef/)")
    })
}

/// Reads the facts about an ELF file held in memory.
pub fn inspect_bytes(data: &[u8]) -> Result<BinaryReport> {
    let kind = object::FileKind::parse(data).map_err(|_| Error::new("not an object file"))?;
    if kind != object::FileKind::Elf64 {
        return Err(Error::new(format!("not a 64-bit ELF file ({kind:?})")));
    }
    let file = ElfFile64::<Endianness>::parse(data)
        .map_err(|e| Error::new(format!("malformed ELF: {e}")))?;
    let endian = file.endian();
    let header = file.elf_header();
    let machine = header.e_machine(endian).0;
    let e_type = header.e_type(endian).0;
    let mut interpreter = None;
    let mut needed = Vec::new();
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) == elf::PT_INTERP
            && let Ok(Some(bytes)) = ph.interpreter(endian, data)
        {
            interpreter = Some(String::from_utf8_lossy(bytes).into_owned());
        }
        if let Ok(Some(dynamic)) = ph.dynamic(endian, data) {
            // Find the string table through DT_STRTAB's section.
            let strtab = file
                .elf_section_table()
                .iter()
                .find(|s| s.sh_type(endian) == elf::SHT_DYNAMIC)
                .and_then(|s| {
                    let link = object::SectionIndex(s.sh_link(endian) as usize);
                    file.elf_section_table().strings(endian, data, link).ok()
                });
            for d in dynamic {
                if d.d_tag(endian) == elf::DT_NEEDED {
                    let name = strtab
                        .and_then(|t| d.string(endian, t).ok())
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_else(|| "<unknown>".into());
                    needed.push(name);
                }
            }
        }
    }
    let has_symtab = file.section_by_name(".symtab").is_some();
    let mut names = std::collections::BTreeSet::new();
    for sym in file.symbols() {
        if sym.is_definition()
            && let Ok(n) = sym.name()
        {
            names.insert(n.to_string());
        }
    }
    let has = |n: &str| names.contains(n);
    let has_prefix = |p: &str| names.iter().any(|n| n.starts_with(p) || n.contains(p));
    let glibc_dyn = needed.iter().any(|n| n.starts_with("libc.so.6"));
    // musl's mallocng / oldmalloc internals.
    let musl_malloc = has("__malloc_alloc_meta")
        || has("__libc_malloc_impl")
        || has("__simple_malloc")
        || has("__malloc_donate")
        || has("alloc_meta");
    // What `malloc` is, in this order: our mimalloc build (marker), other
    // allocators defining malloc, musl's own; only then a mimalloc that is
    // just linked in (the mimalloc crate as Rust's global allocator, beside
    // libc's malloc), which is all a stripped binary can tell.
    let allocator = if contains(data, MIMALLOC_MARKER) {
        AllocatorKind::Mimalloc
    } else if has_prefix("je_malloc") || has_prefix("_rjem_") || has("je_mallocx") {
        AllocatorKind::Jemalloc
    } else if glibc_dyn || has("_int_malloc") {
        AllocatorKind::Glibc
    } else if musl_malloc {
        AllocatorKind::Musl
    } else if has("mi_malloc") || has("_mi_heap_main") || contains(data, b"mimalloc: ") {
        AllocatorKind::Mimalloc
    } else {
        AllocatorKind::Unknown
    };
    let rust_global_allocator = if has_symtab {
        // With a user `#[global_allocator]`, rustc's `__rust_alloc` shim
        // calls it (`__rg_alloc`, often inlined away); without one it calls
        // std's default `__rdl_alloc`, which goes to malloc.
        let custom = names.iter().any(|n| n.contains("__rg_alloc"));
        let default = names.iter().any(|n| n.contains("__rdl_alloc"));
        let shim = names.iter().any(|n| n.contains("__rust_alloc"));
        if custom || (shim && !default) {
            Some(true)
        } else if default {
            Some(false)
        } else {
            None
        }
    } else {
        None
    };
    let string_functions = if contains(data, FAST_STRINGS_MARKER) {
        StringFunctionsKind::Fast
    } else if glibc_dyn || has("__memcpy_avx_unaligned") {
        StringFunctionsKind::Glibc
    } else if has("memcpy") {
        StringFunctionsKind::Musl
    } else {
        StringFunctionsKind::Unknown
    };
    let is_static = interpreter.is_none() && needed.is_empty();
    Ok(BinaryReport {
        platform: Platform::ALL
            .into_iter()
            .find(|p| p.elf_machine() == machine),
        machine,
        is_static,
        pie: e_type == elf::ET_DYN.0,
        interpreter,
        needed,
        size: data.len() as u64,
        stripped: !has_symtab,
        allocator,
        rust_global_allocator,
        string_functions,
    })
}

/// Checks that `report` describes a static executable for `platform`;
/// otherwise an error naming what is wrong and how to fix it.
pub fn verify_static(path: &Path, report: &BinaryReport, platform: Platform) -> Result<()> {
    if report.platform != Some(platform) {
        return Err(Error::new(format!(
            "{} is not a {platform} binary (ELF machine {})",
            path.display(),
            report.machine
        ))
        .hint("check CARGO_TARGET_*_LINKER / CC_* overrides: they must target the platform"));
    }
    if !report.is_static {
        let mut what = Vec::new();
        if let Some(i) = &report.interpreter {
            what.push(format!("interpreter {i}"));
        }
        if !report.needed.is_empty() {
            what.push(format!("shared libraries {}", report.needed.join(", ")));
        }
        return Err(Error::new(format!(
            "{} is not static: it needs {}",
            path.display(),
            what.join(" and ")
        ))
        .hint("a dependency links a shared library (a build script printing `cargo:rustc-link-lib=dylib=...`); make it link statically (often a `static`/`vendored` feature of the -sys crate) or drop it"));
    }
    Ok(())
}

/// Human-readable lines for `inspect` and messages.
pub fn describe(report: &BinaryReport) -> Vec<(String, String)> {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let mut v = vec![
        (
            "platform".into(),
            report
                .platform
                .map(|p| p.to_string())
                .unwrap_or_else(|| format!("unknown (ELF machine {})", report.machine)),
        ),
        (
            "static".into(),
            if report.is_static {
                if report.pie {
                    "yes (static-pie)".into()
                } else {
                    "yes".into()
                }
            } else {
                "no".into()
            },
        ),
    ];
    if let Some(i) = &report.interpreter {
        v.push(("interpreter".into(), i.clone()));
    }
    if !report.needed.is_empty() {
        v.push(("needed".into(), report.needed.join(", ")));
    }
    v.push(("size".into(), format!("{} bytes", report.size)));
    v.push(("stripped".into(), yes_no(report.stripped)));
    let alloc = serde_json::to_value(report.allocator).expect("serializes");
    let mut alloc = alloc.as_str().unwrap_or("?").to_string();
    if report.rust_global_allocator == Some(true) {
        alloc.push_str(" (Rust code uses its own #[global_allocator])");
    }
    v.push(("allocator".into(), alloc));
    let sf = serde_json::to_value(report.string_functions).expect("serializes");
    v.push((
        "string functions".into(),
        sf.as_str().unwrap_or("?").to_string(),
    ));
    v
}
