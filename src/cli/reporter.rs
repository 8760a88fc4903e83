//! The CLI's [`Reporter`]: one concise line per step on stderr, nothing
//! with `-q`.

use muslrust_chef::reporter::Reporter;

/// Prints steps and warnings to stderr.
pub struct StderrReporter {
    pub quiet: bool,
}

impl Reporter for StderrReporter {
    fn step(&self, message: &str) {
        if !self.quiet {
            eprintln!("muslrust-chef: {message}");
        }
    }
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
    fn verbose_children(&self) -> bool {
        !self.quiet
    }
}
