//! Image references (`ghcr.io/org/app:1.2`, `app@sha256:...`) parsed the
//! way Docker reads them, so a name that works with `docker pull` means the
//! same registry and repository here: no registry part means Docker Hub,
//! and a one-component Hub name lives under `library/`.

use std::fmt;

use crate::error::{Error, Result};

/// The registry a reference without a registry part points at.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, `docker.io` for Docker Hub.
    pub registry: String,
    /// `org/app`, `library/alpine`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `[registry/]repository[:tag][@digest]`.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |why: &str| {
            Error::new(format!("`{s}` is not a valid image reference: {why}")).hint(
                "write it as [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. ghcr.io/org/app:1.2",
            )
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad("it is empty"));
        }
        let s_trim = s_trim
            .strip_prefix("docker://")
            .or_else(|| s_trim.strip_prefix("registry:"))
            .unwrap_or(s_trim)
            .trim_start_matches("//");
        let (name, digest) = match s_trim.split_once('@') {
            Some((n, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("the digest must start with `sha256:`"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad("the digest must be 64 lowercase hex digits"));
                }
                (n, Some(d.to_string()))
            }
            None => (s_trim, None),
        };
        // A tag is a `:` after the last `/` (a `:` before it is a port).
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name[last_slash + i + 1..];
                let ok = !tag.is_empty()
                    && tag.len() <= 128
                    && tag
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                    && !tag.starts_with(['.', '-']);
                if !ok {
                    return Err(bad(
                        "the tag may hold letters, digits, `_`, `.` and `-` (at most 128)",
                    ));
                }
                (&name[..last_slash + i], Some(tag.to_string()))
            }
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                DOCKER_HUB.to_string()
            }
            _ => registry,
        };
        if repository.is_empty() {
            return Err(bad("the repository name is missing"));
        }
        for part in repository.split('/') {
            let ok = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part.as_bytes()[0].is_ascii_alphanumeric()
                && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric();
            if !ok {
                return Err(bad(
                    "repository components are lowercase letters and digits, separated by `.`, `_` or `-`",
                ));
            }
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) that serves the registry API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The host without the port (for `--insecure-registry` and localhost checks).
    pub fn hostname(&self) -> &str {
        host_without_port(&self.registry)
    }

    /// What a manifest GET/PUT names: the digest if any, else the tag, else `latest`.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest` (no tag).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// `registry/repository` (what `REF@digest` lines start with).
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// `host` from `host:port` (IPv6 literals in brackets kept whole).
pub fn host_without_port(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry
            .split_once(']')
            .map(|(h, _)| &h[1..])
            .unwrap_or(registry);
    }
    registry.split(':').next().unwrap_or(registry)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_defaults() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/alpine");
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("org/app:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "org/app")
        );
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        let r = Reference::parse("index.docker.io/library/debian:12").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/debian:12");
    }

    #[test]
    fn registries_ports_tags_and_digests() {
        let r = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "app");
        assert_eq!(r.hostname(), "localhost");
        let r = Reference::parse(&format!("127.0.0.1:5000/a/b:v1@{D}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/a/b:v1@{D}"));
        let r = Reference::parse("ghcr.io/org/app").unwrap();
        assert_eq!(r.with_tag("x").to_string(), "ghcr.io/org/app:x");
        assert_eq!(r.with_digest(D).to_string(), format!("ghcr.io/org/app@{D}"));
        let r = Reference::parse("docker://cgr.dev/chainguard/static:latest").unwrap();
        assert_eq!(r.registry, "cgr.dev");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "App",
            "a/b:",
            "a@sha256:xyz",
            "a@md5:00",
            "ghcr.io/",
            "a/-b",
            "x:.bad",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(e.hint_text().is_some(), "{bad}: {}", e.message());
        }
    }
}
