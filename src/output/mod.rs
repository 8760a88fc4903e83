//! Where images go: OCI layout, docker archive, Docker daemon, registry;
//! all sinks behind one interface. (Issue 4.)
