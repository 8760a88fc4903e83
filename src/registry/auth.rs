//! Registry authentication as the distribution spec and Docker Hub, GHCR,
//! ECR, GAR and Harbor practise it: a 401 carries a `WWW-Authenticate`
//! challenge; `Basic` means send the credential with every request,
//! `Bearer realm=...,service=...,scope=...` means trade the credential (or
//! nothing, for anonymous pulls) at `realm` for a token covering the
//! scopes we need: `pull,push` on the target repository and `pull` on a
//! repository we mount blobs from.

use std::collections::BTreeSet;

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry asked for (space-separated scopes).
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a header value; `None` for schemes we do not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => {
                let params = parse_params(rest);
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                Some(Challenge::Bearer {
                    realm: get("realm")?,
                    service: get("service"),
                    scope: get("scope"),
                })
            }
            _ => None,
        }
    }
}

/// Parses `k="v", k2=v2` (quoted values may hold commas and `\"`).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    out
}

/// The scopes a session needs, kept sorted so the token request is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// `pull` on `repo`.
    pub fn pull(repo: &str) -> Scopes {
        let mut s = Scopes::default();
        s.add_pull(repo);
        s
    }

    /// `pull,push` on `repo`.
    pub fn push(repo: &str) -> Scopes {
        let mut s = Scopes::default();
        s.0.insert(format!("repository:{repo}:pull,push"));
        s
    }

    /// Adds `pull` on `repo` (a mount source), unless push already covers it.
    pub fn add_pull(&mut self, repo: &str) {
        if !self.0.contains(&format!("repository:{repo}:pull,push")) {
            self.0.insert(format!("repository:{repo}:pull"));
        }
    }

    /// Adds the scopes a challenge asked for; returns whether any was new.
    pub fn add_requested(&mut self, scope: &str) -> bool {
        let mut added = false;
        for s in scope.split_whitespace() {
            added |= self.0.insert(s.to_string());
        }
        added
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// The token in a token-server reply (`token`, or OAuth's `access_token`).
pub fn token_from_reply(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            }
        );
        let c =
            Challenge::parse(r#"bearer realm=https://x/t, error="insufficient_scope""#).unwrap();
        assert!(
            matches!(c, Challenge::Bearer { realm, service: None, .. } if realm == "https://x/t")
        );
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }

    #[test]
    fn scopes_merge() {
        let mut s = Scopes::push("org/app");
        s.add_pull("org/base");
        s.add_pull("org/app");
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            ["repository:org/app:pull,push", "repository:org/base:pull"]
        );
        assert!(!s.add_requested("repository:org/base:pull"));
        assert!(s.add_requested("repository:other:pull"));
    }

    #[test]
    fn reads_token_replies() {
        assert_eq!(
            token_from_reply(br#"{"token":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_reply(br#"{"access_token":"x","expires_in":60}"#).as_deref(),
            Some("x")
        );
        assert_eq!(token_from_reply(b"nope"), None);
    }
}
