//! Which malloc and string functions the musl libc linked into a binary
//! carries. The replacement libc.a is assembled here (issue 6).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::reporter::Reporter;
use crate::toolchain::c::CToolchain;

/// The malloc implementation linked into musl's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    /// musl's own malloc (one global lock).
    #[default]
    Musl,
    /// mimalloc, linked in place of musl's malloc family.
    Mimalloc,
}

/// The memcpy/memmove/memset implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StringFunctions {
    /// musl's own.
    #[default]
    Musl,
    /// muslrust-chef's fast implementation.
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

/// Writes a replacement `libc.a` for `choice` into `dir` (nothing for the
/// stock libc).
pub fn assemble(
    _c: &CToolchain,
    _platform: Platform,
    choice: LibcChoice,
    _dir: &Path,
    _reporter: &dyn Reporter,
) -> Result<()> {
    if choice.is_stock() {
        return Ok(());
    }
    Err(Error::new("replacement libc is not available yet"))
}
