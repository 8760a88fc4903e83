//! Registry credentials, found where Docker keeps them so that a machine
//! logged in with `docker login` (or a CI job with two environment
//! variables) can push without further setup.
//!
//! Order, first match wins: `MUSLRUST_CHEF_REGISTRY_USERNAME`/`_PASSWORD`;
//! then `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`):
//! a `credHelpers` entry for the registry, the `credsStore` helper, the
//! `auths` entry. Helpers are the `docker-credential-NAME` executables on
//! PATH, spoken to with Docker's `get`/`store`/`erase` protocol.
//!
//! Secrets never reach `Debug`, `Display` or an error message: every error
//! names the *source* (which file, which helper), never its contents.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::env;
use crate::error::{Error, Result};

use super::reference::DOCKER_HUB;

/// The key Docker uses for Docker Hub in `auths` and with helpers.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A username with its secret (a password, or an identity token that is
/// exchanged for access tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    secret: String,
    identity_token: bool,
}

impl Credential {
    /// A username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credential {
        Credential {
            username: username.into(),
            secret: password.into(),
            identity_token: false,
        }
    }

    /// A refresh ("identity") token, as Docker stores for OAuth logins.
    pub fn identity_token(username: impl Into<String>, token: impl Into<String>) -> Credential {
        Credential {
            username: username.into(),
            secret: token.into(),
            identity_token: true,
        }
    }

    /// The password or token. Only the HTTP layer reads it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether [`Self::secret`] is an identity token rather than a password.
    pub fn is_identity_token(&self) -> bool {
        self.identity_token
    }

    /// `Basic base64(user:password)`.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            B64.encode(format!("{}:{}", self.username, self.secret))
        )
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where a credential came from (named in 401/403 errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nothing configured: anonymous access.
    Anonymous,
    /// `MUSLRUST_CHEF_REGISTRY_USERNAME`/`_PASSWORD`.
    Environment,
    /// The `auths` entry `key` in the config file.
    Auths { path: PathBuf, key: String },
    /// `docker-credential-NAME` named by `credHelpers` or `credsStore`.
    Helper {
        name: String,
        setting: &'static str,
        path: PathBuf,
    },
    /// Given directly (login, tests).
    Explicit,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Anonymous => f.write_str("no credentials (anonymous access; none found in the environment or the Docker config)"),
            Source::Environment => write!(
                f,
                "the {}/{} environment variables",
                env::REGISTRY_USERNAME,
                env::REGISTRY_PASSWORD
            ),
            Source::Auths { path, key } => {
                write!(f, "the `auths` entry \"{key}\" in {}", path.display())
            }
            Source::Helper { name, setting, path } => write!(
                f,
                "the credential helper docker-credential-{name} (`{setting}` in {})",
                path.display()
            ),
            Source::Explicit => f.write_str("the credentials given on the command line"),
        }
    }
}

/// A credential (or none) and where the search ended.
#[derive(Debug, Clone)]
pub struct Found {
    pub credential: Option<Credential>,
    pub source: Source,
}

/// The Docker config directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return d.into();
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".docker")
}

/// The Docker config file.
pub fn docker_config_path() -> PathBuf {
    docker_config_dir().join("config.json")
}

/// The key a registry has in `auths` and with helpers.
pub fn server_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// Reduces an `auths` key (`https://host:port/v1/`, `host`) to `host:port`.
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        _ => k.to_string(),
    }
}

/// Finds credentials for `registry` (`host[:port]`, `docker.io` for Hub).
pub fn lookup(registry: &str) -> Result<Found> {
    let user = std::env::var(env::REGISTRY_USERNAME)
        .ok()
        .filter(|s| !s.is_empty());
    let pass = std::env::var(env::REGISTRY_PASSWORD)
        .ok()
        .filter(|s| !s.is_empty());
    match (user, pass) {
        (Some(u), Some(p)) => {
            return Ok(Found {
                credential: Some(Credential::basic(u, p)),
                source: Source::Environment,
            });
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::new(format!(
                "only one of {} and {} is set",
                env::REGISTRY_USERNAME,
                env::REGISTRY_PASSWORD
            ))
            .hint(
                "set both (the password from a CI secret), or neither to use the Docker config",
            ));
        }
        (None, None) => {}
    }
    lookup_in_config(&docker_config_path(), registry)
}

fn read_config(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    // serde_json's message quotes no input text, so no secret leaks here.
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(
            Error::new(format!("{} is not a JSON object", path.display()))
                .hint("fix or remove the file (it is Docker's client config)"),
        ),
        Err(e) => Err(
            Error::new(format!("{} is not valid JSON: {e}", path.display()))
                .hint("fix or remove the file (it is Docker's client config)"),
        ),
    }
}

/// Finds credentials for `registry` in the config file at `path`.
pub fn lookup_in_config(path: &Path, registry: &str) -> Result<Found> {
    let anonymous = Found {
        credential: None,
        source: Source::Anonymous,
    };
    let Some(cfg) = read_config(path)? else {
        return Ok(anonymous);
    };
    let helper_for = cfg
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| normalize_key(k) == registry)
                .and_then(|(_, v)| v.as_str())
        })
        .map(|n| (n.to_string(), "credHelpers"))
        .or_else(|| {
            cfg.get("credsStore")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|n| (n.to_string(), "credsStore"))
        });
    if let Some((name, setting)) = helper_for {
        let source = Source::Helper {
            name: name.clone(),
            setting,
            path: path.to_path_buf(),
        };
        let credential = helper_get(&name, &server_key(registry)).map_err(|e| {
            Error::new(format!("{e}")).hint(format!(
                "check the helper named by `{setting}` in {}, or log in again",
                path.display()
            ))
        })?;
        if credential.is_some() || setting == "credHelpers" {
            return Ok(Found { credential, source });
        }
    }
    let Some(auths) = cfg.get("auths").and_then(Value::as_object) else {
        return Ok(anonymous);
    };
    let Some((key, entry)) = auths.iter().find(|(k, _)| normalize_key(k) == registry) else {
        return Ok(anonymous);
    };
    let source = Source::Auths {
        path: path.to_path_buf(),
        key: key.clone(),
    };
    let bad = |why: &str| {
        Error::new(format!("{source} is malformed: {why}"))
            .hint("run `muslrust-chef login` (or `docker login`) again")
    };
    let get = |f: &str| {
        entry
            .get(f)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(token) = get("identitytoken") {
        let user = get("username").unwrap_or("<token>");
        return Ok(Found {
            credential: Some(Credential::identity_token(user, token)),
            source,
        });
    }
    if let Some(auth) = get("auth") {
        let decoded = B64
            .decode(auth.trim())
            .map_err(|_| bad("`auth` is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| bad("`auth` is not `username:password`"))?;
        return Ok(Found {
            credential: Some(Credential::basic(u, p)),
            source,
        });
    }
    if let (Some(u), Some(p)) = (get("username"), get("password")) {
        return Ok(Found {
            credential: Some(Credential::basic(u, p)),
            source,
        });
    }
    // An empty entry (Docker writes `{}` when a helper holds the secret).
    Ok(anonymous)
}

fn helper_command(name: &str) -> Command {
    Command::new(format!("docker-credential-{name}"))
}

/// Runs `docker-credential-NAME ACTION` with `input` on stdin; the helper's
/// output is returned only on success, and never quoted in an error.
fn run_helper(name: &str, action: &str, input: &[u8]) -> Result<(bool, Vec<u8>)> {
    let prog = format!("docker-credential-{name}");
    let mut child = helper_command(name)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let err = Error::new(format!("could not run the credential helper `{prog}`: {e}"));
            if e.kind() == std::io::ErrorKind::NotFound {
                err.hint(format!(
                    "install `{prog}` on PATH, or remove it from the Docker config"
                ))
            } else {
                err
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits early closes stdin: its status says why.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(format!("waiting for `{prog}`: {e}")))?;
    Ok((out.status.success(), out.stdout))
}

/// Asks helper `name` for the credential of `server`; `None` when it has none.
pub fn helper_get(name: &str, server: &str) -> Result<Option<Credential>> {
    let prog = format!("docker-credential-{name}");
    let (ok, stdout) = run_helper(name, "get", server.as_bytes())?;
    if !ok {
        // Helpers exit non-zero with "credentials not found" for unknown
        // servers; that is anonymous access, not an error.
        let text = String::from_utf8_lossy(&stdout);
        if text.to_lowercase().contains("not found") || stdout.is_empty() {
            return Ok(None);
        }
        return Err(Error::new(format!("`{prog} get` failed for {server}")));
    }
    let v: Value = serde_json::from_slice(&stdout).map_err(|_| {
        Error::new(format!(
            "`{prog} get` did not print a JSON credential for {server}"
        ))
    })?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if user == "<token>" {
        Credential::identity_token(user, secret)
    } else {
        Credential::basic(user, secret)
    }))
}

/// Writes `value` to `path` atomically (temp file, mode 0600, rename).
fn write_config(path: &Path, value: &Map<String, Value>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.json.")
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.write_all(b"\n"))
        .map_err(|e| Error::io("writing", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    Ok(())
}

/// Where `login` stored a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// In `auths` of the config file.
    ConfigFile(PathBuf),
    /// In a credential helper.
    Helper(String),
}

/// The credential helper `docker login` would store `registry`'s
/// credential in: its `credHelpers` entry, else `credsStore`.
fn storing_helper(cfg: &Map<String, Value>, registry: &str) -> Option<String> {
    cfg.get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| normalize_key(k) == registry))
        .and_then(|(_, v)| v.as_str())
        .or_else(|| cfg.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Stores `cred` for `registry` the way `docker login` does: in the
/// registry's `credHelpers` helper, else the `credsStore` helper, else
/// base64 in `auths`.
pub fn store(path: &Path, registry: &str, cred: &Credential) -> Result<Stored> {
    let mut cfg = read_config(path)?.unwrap_or_default();
    let key = server_key(registry);
    let helper = storing_helper(&cfg, registry);
    let auths = cfg
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths.as_object_mut().expect("made an object above");
    // Drop other spellings of the same registry so lookups are unambiguous.
    auths.retain(|k, _| k == &key || normalize_key(k) != registry);
    if let Some(name) = helper {
        let payload = serde_json::json!({
            "ServerURL": key,
            "Username": cred.username,
            "Secret": cred.secret,
        });
        let (ok, _) = run_helper(&name, "store", payload.to_string().as_bytes())?;
        if !ok {
            return Err(Error::new(format!(
                "the credential helper docker-credential-{name} could not store the credential for {registry}"
            ))
            .hint(format!("check the helper, or remove it from {}", path.display())));
        }
        auths.insert(key, Value::Object(Map::new()));
        write_config(path, &cfg)?;
        return Ok(Stored::Helper(name));
    }
    let mut entry = Map::new();
    entry.insert(
        "auth".into(),
        Value::String(B64.encode(format!("{}:{}", cred.username, cred.secret))),
    );
    auths.insert(key, Value::Object(entry));
    write_config(path, &cfg)?;
    Ok(Stored::ConfigFile(path.to_path_buf()))
}

/// Removes the credential for `registry` (config entry and helper).
/// Returns whether anything was removed.
pub fn erase(path: &Path, registry: &str) -> Result<bool> {
    let Some(mut cfg) = read_config(path)? else {
        return Ok(false);
    };
    let key = server_key(registry);
    let helper = storing_helper(&cfg, registry);
    let mut removed = false;
    if let Some(name) = helper {
        let (ok, _) = run_helper(&name, "erase", key.as_bytes())?;
        removed |= ok;
    }
    if let Some(auths) = cfg.get_mut("auths").and_then(Value::as_object_mut) {
        let before = auths.len();
        auths.retain(|k, _| normalize_key(k) != registry);
        if auths.len() != before {
            removed = true;
            write_config(path, &cfg)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_in_every_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths": {{
                    "https://index.docker.io/v1/": {{"auth": "{}"}},
                    "https://ghcr.io": {{"username": "u2", "password": "p2"}},
                    "localhost:5000": {{"identitytoken": "tok"}},
                    "empty.example": {{}}
                }}, "unknownField": 1}}"#,
                B64.encode("hubuser:hubpass")
            ),
        )
        .unwrap();
        let hub = lookup_in_config(&path, "docker.io").unwrap();
        assert_eq!(
            hub.credential,
            Some(Credential::basic("hubuser", "hubpass"))
        );
        assert!(matches!(hub.source, Source::Auths { .. }));
        let gh = lookup_in_config(&path, "ghcr.io").unwrap();
        assert_eq!(gh.credential.unwrap().username, "u2");
        let local = lookup_in_config(&path, "localhost:5000")
            .unwrap()
            .credential
            .unwrap();
        assert!(local.is_identity_token());
        assert_eq!(
            lookup_in_config(&path, "empty.example").unwrap().source,
            Source::Anonymous
        );
        assert_eq!(
            lookup_in_config(&path, "other.io").unwrap().source,
            Source::Anonymous
        );
        assert_eq!(
            lookup_in_config(&dir.path().join("missing.json"), "ghcr.io")
                .unwrap()
                .source,
            Source::Anonymous
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let c = Credential::basic("me", "hunter2-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"r.io": {"auth": "hunter2-secret!!"}}}"#,
        )
        .unwrap();
        let e = lookup_in_config(&path, "r.io").unwrap_err();
        let text = crate::error::render(&e);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("r.io"), "{text}");
    }

    #[test]
    fn store_and_erase_keep_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths": {"https://other.io": {"auth": "eDp5"}}, "psFormat": "x"}"#,
        )
        .unwrap();
        let stored = store(&path, "r.io:5000", &Credential::basic("me", "pw")).unwrap();
        assert_eq!(stored, Stored::ConfigFile(path.clone()));
        let found = lookup_in_config(&path, "r.io:5000").unwrap();
        assert_eq!(found.credential, Some(Credential::basic("me", "pw")));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert!(v["auths"]["https://other.io"].is_object());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(erase(&path, "r.io:5000").unwrap());
        assert_eq!(
            lookup_in_config(&path, "r.io:5000").unwrap().source,
            Source::Anonymous
        );
        assert!(!erase(&path, "r.io:5000").unwrap());
    }
}
