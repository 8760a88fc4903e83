//! Registries: pushing images (`image --push`), pulling bases (`--base
//! REF`), and the credentials and authentication both need. A small
//! blocking client for the distribution API lives in [`client`]; see its
//! module doc for why it is ours rather than `oci-client`.

pub mod auth;
pub mod client;
pub mod credentials;
pub mod pull;
pub mod push;
pub mod reference;

pub use client::{Client, Options};
pub use credentials::{Credential, Found, Source};
pub use reference::Reference;
