//! Every environment variable muslrust-chef reads or sets, in one place, so
//! the names are documented once and never misspelled.

/// Overrides the cache directory (default: the user's cache dir +
/// `muslrust-chef`). Built std sysroots and native libraries live there.
pub const CACHE_DIR: &str = "MUSLRUST_CHEF_CACHE_DIR";
/// Default platforms for `build`/`image` (comma-separated, Docker names).
pub const PLATFORMS: &str = "MUSLRUST_CHEF_PLATFORMS";
/// Default repository for `image --push` (like ko's `KO_DOCKER_REPO`).
pub const REPO: &str = "MUSLRUST_CHEF_REPO";
/// Registry credentials for CI.
pub const REGISTRY_USERNAME: &str = "MUSLRUST_CHEF_REGISTRY_USERNAME";
/// Registry credentials for CI (never printed).
pub const REGISTRY_PASSWORD: &str = "MUSLRUST_CHEF_REGISTRY_PASSWORD";
/// Default allocator (`mimalloc` or `musl`).
pub const ALLOCATOR: &str = "MUSLRUST_CHEF_ALLOCATOR";
/// Default string functions (`fast` or `musl`).
pub const STRING_FUNCTIONS: &str = "MUSLRUST_CHEF_STRING_FUNCTIONS";
/// Set by the test suite in CI: tests that need a missing component fail
/// instead of skipping.
pub const REQUIRE_ALL: &str = "MUSLRUST_CHEF_REQUIRE_ALL";

/// Overrides the registry upload chunk size in bytes (tests use it to force
/// chunked uploads of small blobs).
pub const REGISTRY_CHUNK_SIZE: &str = "MUSLRUST_CHEF_REGISTRY_CHUNK_SIZE";
/// Docker's variable naming the daemon (`unix:///path/to/docker.sock`).
pub const DOCKER_HOST: &str = "DOCKER_HOST";

/// Cargo's switch to fetch git dependencies with the git CLI; we default it
/// to `true` (cargo's built-in fetch ran out of memory under emulation).
pub const CARGO_NET_GIT_FETCH_WITH_CLI: &str = "CARGO_NET_GIT_FETCH_WITH_CLI";
/// Lets a stable toolchain build std from source.
pub const RUSTC_BOOTSTRAP: &str = "RUSTC_BOOTSTRAP";
/// The user's RUSTFLAGS (kept: we append, never replace).
pub const RUSTFLAGS: &str = "RUSTFLAGS";
/// The user's encoded RUSTFLAGS (kept: we append, never replace).
pub const CARGO_ENCODED_RUSTFLAGS: &str = "CARGO_ENCODED_RUSTFLAGS";
/// Where the reproducible timestamp comes from.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The cache directory muslrust-chef uses.
pub fn cache_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os(CACHE_DIR).filter(|d| !d.is_empty()) {
        return d.into();
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("muslrust-chef")
}
