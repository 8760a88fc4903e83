//! Progress goes through this trait; only the CLI decides how (and whether)
//! to draw it, on stderr. stdout carries results only.

/// Receives progress from the library.
pub trait Reporter: Send + Sync {
    /// A step starts ("building std for aarch64-unknown-linux-musl").
    fn step(&self, message: &str);
    /// Something the user should know but that does not stop the work.
    fn warn(&self, message: &str);
    /// Whether child processes (cargo) may print their own progress.
    fn verbose_children(&self) -> bool {
        true
    }
}

/// A reporter that drops everything (tests, `-q`).
pub struct Silent;

impl Reporter for Silent {
    fn step(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn verbose_children(&self) -> bool {
        false
    }
}
