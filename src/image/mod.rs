//! OCI image assembly: the built-in base, deterministic layers, config,
//! manifests and the index. (Issue 4.)
