//! Embeds mimalloc's C sources into muslrust-chef, so that the tool can
//! compile mimalloc for any musl target at run time with that target's C
//! compiler (see `src/toolchain/libc.rs`).
//!
//! The sources are not copied into this repository: they come from the
//! `libmimalloc-sys` crate, a normal dependency. Its build script announces
//! its include directory (`links = "mimalloc"`, `cargo:INCLUDE_DIR=...`),
//! which cargo hands to us as `DEP_MIMALLOC_INCLUDE_DIR`; the `src/`
//! directory beside it holds the single-file build (`static.c`) and what it
//! includes. We generate `$OUT_DIR/mimalloc_sources.rs` with one
//! `include_bytes!` per file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(root).expect("under root");
        if p.is_dir() {
            // Only the Unix platform layer is compiled for musl targets.
            let skip = [
                "src/prim/windows",
                "src/prim/osx",
                "src/prim/wasi",
                "src/prim/emscripten",
            ];
            if !skip.iter().any(|s| rel == Path::new(s)) {
                collect(root, &p, out);
            }
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "h")) {
            out.push(p);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_MIMALLOC_INCLUDE_DIR");
    let include = std::env::var("DEP_MIMALLOC_INCLUDE_DIR").expect(
        "DEP_MIMALLOC_INCLUDE_DIR is not set: the libmimalloc-sys dependency must announce its include directory",
    );
    let root = Path::new(&include)
        .parent()
        .expect("the include dir has a parent")
        .to_path_buf();
    let mut files = Vec::new();
    collect(&root, &root.join("include"), &mut files);
    collect(&root, &root.join("src"), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("src/static.c")),
        "no src/static.c under {}",
        root.display()
    );
    let header = std::fs::read_to_string(root.join("include/mimalloc.h")).expect("mimalloc.h");
    let version = header
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("#define MI_MALLOC_VERSION")?;
            rest.split_whitespace().next().map(str::to_string)
        })
        .expect("MI_MALLOC_VERSION in mimalloc.h");
    let mut code = String::new();
    writeln!(
        code,
        "/// mimalloc's version number (`MI_MALLOC_VERSION`).\npub const MIMALLOC_VERSION: u32 = {version};"
    )
    .unwrap();
    code.push_str(
        "/// mimalloc's C sources: (path relative to the source root, contents).\npub const MIMALLOC_SOURCES: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            f.display().to_string()
        )
        .unwrap();
        println!("cargo:rerun-if-changed={}", f.display());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("mimalloc_sources.rs");
    std::fs::write(&out, code).expect("writing mimalloc_sources.rs");
}
