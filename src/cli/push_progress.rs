//! Progress bars for `image --push`: one bar per uploading blob (bytes and
//! rate) on stderr, drawn only when stderr is a terminal; otherwise the
//! push prints only its one summary line (through the reporter).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use muslrust_chef::registry::push::{BlobAction, NoProgress, PushProgress};

/// Bars per blob.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl PushProgress for Bars {
    fn start(&self, digest: &str, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("{msg:20} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("the template is valid"),
        );
        bar.set_message(short(digest));
        self.bars.lock().unwrap().insert(digest.to_string(), bar);
    }
    fn advance(&self, digest: &str, n: u64) {
        if let Some(b) = self.bars.lock().unwrap().get(digest) {
            b.inc(n);
        }
    }
    fn finish(&self, digest: &str, action: BlobAction) {
        if let Some(b) = self.bars.lock().unwrap().remove(digest) {
            b.finish_with_message(format!("{} {:?}", short(digest), action).to_lowercase());
        }
    }
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// Bars when stderr is a terminal and not `-q`; nothing otherwise.
pub fn for_stderr(quiet: bool) -> Box<dyn PushProgress + Send> {
    if quiet || !std::io::stderr().is_terminal() {
        return Box::new(NoProgress);
    }
    Box::new(Bars {
        multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        bars: Mutex::new(HashMap::new()),
    })
}
