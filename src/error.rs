//! One error type for the library: a message, the chain of causes, and a
//! hint telling the user what to do next. The CLI renders it once (`error:`,
//! `caused by:`, `hint:`); library code never prints errors itself.

use std::fmt;
use std::path::Path;

/// The result type used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with an optional hint (the next step for the user).
#[derive(Debug)]
pub struct Error {
    message: String,
    hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error with a one-line message.
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Adds (or replaces) the hint shown after the error.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The one-line message, without causes or hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// An I/O error on `path`, with the action that failed ("reading", ...).
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Error::new(format!("{action} {}: {err}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Adds a message (and keeps the cause) to errors from other libraries.
pub trait Context<T> {
    /// Wraps the error with `message`.
    fn context(self, message: impl Into<String>) -> Result<T>;
    /// Wraps the error with a lazily built message.
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, message: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::new(message).source(e))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::new(f()).source(e))
    }
}

/// Renders an error the way the CLI prints it: `error: ...`, each
/// `caused by: ...`, then `hint: ...`.
pub fn render(err: &Error) -> String {
    let mut out = format!("error: {}", err.message);
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let text = c.to_string();
        for line in text.lines() {
            out.push_str("\n  caused by: ");
            out.push_str(line);
        }
        cause = c.source();
    }
    if let Some(h) = &err.hint {
        out.push_str("\nhint: ");
        out.push_str(h);
    }
    out
}

/// Shorthand for `Err(Error::new(..))` with a hint.
#[macro_export]
macro_rules! bail {
    ($msg:expr) => {
        return Err($crate::error::Error::new($msg))
    };
    ($msg:expr, hint = $hint:expr) => {
        return Err($crate::error::Error::new($msg).hint($hint))
    };
}
