//! muslrust-chef: turns a Cargo project into small, fast, static (musl)
//! Linux binaries and container images for linux/amd64 and linux/arm64.
//!
//! The library is a pipeline of stages with plain data between them (see
//! `DESIGN.md` in the shared docs): `project` reads cargo metadata,
//! `recipe` prepares and cooks dependency skeletons, `toolchain` finds or
//! builds everything a musl target needs, `compile` runs cargo,
//! `inspect` reads ELF facts, `image` assembles OCI images and `output`
//! writes them somewhere. The CLI (`src/cli`) only turns flags into calls.

pub mod cargo_config;
pub mod compile;
pub mod doctor;
pub mod env;
pub mod error;
pub mod image;
pub mod inspect;
pub mod output;
pub mod platform;
pub mod process;
pub mod project;
pub mod recipe;
pub mod registry;
pub mod reporter;
pub mod scaffold;
pub mod toolchain;

pub use error::{Error, Result};
pub use platform::Platform;
