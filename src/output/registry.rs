//! The registry sink (`--push REF`): finds credentials, connects before
//! the build (so a bad password fails in a second, not after a compile),
//! pushes blobs, manifests, the index and the tags in that order, and
//! returns `REF@sha256:...` lines (or the JSON push report).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::image::ImageSet;
use crate::registry::auth::Scopes;
use crate::registry::push::{NoProgress, PushProgress, PushReport, PushRequest, push};
use crate::registry::{Client, Options, Reference, credentials};
use crate::reporter::Reporter;

use super::Sink;

/// How the registry sink reports and where it may connect.
pub struct RegistrySinkOptions {
    pub client: Options,
    /// Print the push report as JSON instead of `REF@digest` lines.
    pub json: bool,
    /// Also write the `REF@digest` lines to this file (`--image-refs`).
    pub image_refs: Option<PathBuf>,
    /// Repositories (same registry) to mount missing blobs from.
    pub mount_from: Vec<String>,
    /// Per-blob progress (the CLI's bars); none by default.
    pub progress: Box<dyn PushProgress + Send>,
    /// Blobs uploaded at once.
    pub parallel: usize,
}

impl Default for RegistrySinkOptions {
    fn default() -> Self {
        RegistrySinkOptions {
            client: Options::default(),
            json: false,
            image_refs: None,
            mount_from: Vec::new(),
            progress: Box::new(NoProgress),
            parallel: 3,
        }
    }
}

/// Pushes to one repository.
pub struct RegistrySink {
    target: Reference,
    opts: RegistrySinkOptions,
    client: Mutex<Option<Arc<Client>>>,
}

impl RegistrySink {
    /// A sink for `reference` (`REGISTRY/REPO[:TAG]`).
    pub fn new(reference: &str, opts: RegistrySinkOptions) -> Result<RegistrySink> {
        let target = Reference::parse(reference)?;
        if target.digest.is_some() {
            return Err(
                Error::new(format!("cannot push to `{reference}`: it names a digest")).hint(
                    "push to a tag (REPO:TAG) or to the bare repository; the digest is computed",
                ),
            );
        }
        Ok(RegistrySink {
            target,
            opts,
            client: Mutex::new(None),
        })
    }

    /// The target reference.
    pub fn target(&self) -> &Reference {
        &self.target
    }

    fn client(&self) -> Result<Arc<Client>> {
        let mut slot = self.client.lock().unwrap();
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let found = credentials::lookup(&self.target.registry)?;
        let mut scopes = Scopes::push(&self.target.repository);
        for m in &self.opts.mount_from {
            scopes.add_pull(m);
        }
        let c = Arc::new(Client::connect(
            &self.target.registry,
            scopes,
            found,
            self.opts.client.clone(),
        )?);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Pushes and returns the full report.
    pub fn push(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<PushReport> {
        let client = self.client()?;
        let mut tag_list: Vec<String> = Vec::new();
        if let Some(t) = &self.target.tag {
            tag_list.push(t.clone());
        }
        for t in tags {
            // `NAME:TAG` or `TAG`: only the tag part names something here.
            let last = t.rsplit('/').next().unwrap_or(t);
            let tag = last.rsplit_once(':').map(|(_, t)| t).unwrap_or(last);
            let checked = self.target.with_tag(tag).to_string();
            Reference::parse(&checked)?;
            if !tag_list.iter().any(|x| x == tag) {
                tag_list.push(tag.to_string());
            }
        }
        if tag_list.is_empty() {
            tag_list.push("latest".into());
        }
        reporter.step(&format!("pushing to {}", self.target.repo_name()));
        let report = push(
            &client,
            &PushRequest {
                target: &self.target,
                images,
                tags: tag_list,
                mount_from: self.opts.mount_from.clone(),
                parallel: self.opts.parallel,
            },
            self.opts.progress.as_ref(),
        )?;
        reporter.step(&report.summary());
        if let Some(path) = &self.opts.image_refs {
            let dir = super::parent_dir(path)?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".image-refs.")
                .tempfile_in(&dir)
                .map_err(|e| Error::io("creating a temporary file in", &dir, e))?;
            use std::io::Write as _;
            for r in &report.references {
                writeln!(tmp, "{r}").map_err(|e| Error::io("writing", tmp.path(), e))?;
            }
            tmp.persist(path)
                .map_err(|e| Error::io("writing", path, e.error))?;
        }
        Ok(report)
    }
}

impl Sink for RegistrySink {
    fn write(
        &self,
        images: &ImageSet,
        tags: &[String],
        reporter: &dyn Reporter,
    ) -> Result<Vec<String>> {
        let report = self.push(images, tags, reporter)?;
        if self.opts.json {
            Ok(vec![
                serde_json::to_string(&report).expect("push reports serialize"),
            ])
        } else {
            Ok(report.references)
        }
    }

    fn preflight(&self, _platforms: usize) -> Result<()> {
        self.client().map(|_| ())
    }
}
