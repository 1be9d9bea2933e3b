//! Providers: where the estate's facts come from.
//!
//! * [`CloudInventory`] — instances (EC2 + SSM in production, the sandbox here).
//! * [`ObjectStore`] — buckets, objects by prefix, versions of a key (S3).
//! * Host facts (containers, backups, deploy records) are read *over the
//!   transport* by [`host::HostInventory`], with the same script on any host.
//!
//! Providers return domain types and know nothing of ratatui.

pub mod aws;
pub mod host;
pub mod layout;
pub mod machines;
pub mod run_locks;
pub mod sandbox;
pub mod session;

use crate::domain::{Bucket, Finding, Instance, ObjectEntry, ObjectVersion};
use async_trait::async_trait;

/// What kind of failure a provider error is, set once where it is made
/// (from the AWS error code, or the credentials chain), so nothing above
/// reads it from the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKind {
    /// The thing asked about does not exist (yet): `*.NotFound`, `NoSuch*`.
    NotFound,
    /// Credentials missing, expired or not valid: `:login` is the way out.
    Auth,
    /// The API asks to slow down.
    Throttled,
    /// This provider or endpoint cannot do it.
    Unsupported,
    #[default]
    Other,
}

impl ErrorKind {
    /// The kind of an AWS error code.
    pub fn of_code(code: &str) -> ErrorKind {
        match code {
            "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidAccessKeyId"
            | "AuthFailure"
            | "SignatureDoesNotMatch" => ErrorKind::Auth,
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "SlowDown" => ErrorKind::Throttled,
            "UnsupportedOperation" | "InvalidAction" | "NotImplemented" => ErrorKind::Unsupported,
            c if c.ends_with("NotFound")
                || c.ends_with("NotFoundException")
                || c.ends_with("NotFoundError")
                || c.starts_with("NoSuch") =>
            {
                ErrorKind::NotFound
            }
            _ => ErrorKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{context}: {message}")]
pub struct ProviderError {
    pub context: String,
    pub message: String,
    pub kind: ErrorKind,
}

impl ProviderError {
    pub fn new(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self {
            context: context.into(),
            message: message.to_string(),
            kind: ErrorKind::Other,
        }
    }

    /// The thing asked about does not exist; `code` is EC2's for it.
    pub fn not_found(context: impl Into<String>, code: &str) -> Self {
        Self::new(context, code).with_kind(ErrorKind::NotFound)
    }

    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

#[async_trait]
pub trait CloudInventory: Send + Sync {
    /// Short label for the header ("sandbox", "aws:prod").
    fn label(&self) -> String;
    /// Where runs with no host keep their locks (none: such runs are not
    /// locked, and say so).
    fn run_locks(&self) -> Option<std::sync::Arc<dyn run_locks::LockStore>> {
        None
    }
    async fn instances(&self) -> ProviderResult<Vec<Instance>>;
    /// The same list, its pages handed to `on_page` as they arrive (rows
    /// not yet complete: SSM's status may still be unknown); the whole
    /// list, complete, at the end.
    async fn instance_pages(
        &self,
        on_page: &mut (dyn FnMut(Vec<Instance>) + Send),
    ) -> ProviderResult<Vec<Instance>> {
        let _ = on_page;
        self.instances().await
    }
    /// Security posture: open security groups, unencrypted volumes, IMDSv1.
    async fn posture(&self) -> ProviderResult<Vec<Finding>>;
    /// Start (`running`) or stop an instance; returns the state reported back.
    async fn set_running(&self, id: &str, running: bool) -> ProviderResult<String>;
    /// The machine images opsdeck made of `instance` (its
    /// [`machines::SOURCE_TAG`]), any order.
    async fn images(&self, region: &str, instance: &str) -> ProviderResult<Vec<machines::Image>> {
        let _ = (region, instance);
        Err(unsupported("listing images"))
    }
    /// One image by id.
    async fn image(&self, region: &str, id: &str) -> ProviderResult<machines::Image> {
        let _ = (region, id);
        Err(unsupported("describing an image"))
    }
    /// CreateImage of `instance` named `name` (no reboot), tagged with its
    /// source; returns the new image's id (it may still be pending).
    async fn create_image(
        &self,
        region: &str,
        instance: &str,
        name: &str,
    ) -> ProviderResult<String> {
        let _ = (region, instance, name);
        Err(unsupported("creating an image"))
    }
    /// DeregisterImage, then DeleteSnapshot for each of its snapshots;
    /// returns the snapshots deleted.
    async fn delete_image(&self, region: &str, id: &str) -> ProviderResult<Vec<String>> {
        let _ = (region, id);
        Err(unsupported("deleting an image"))
    }
    /// How `instance` is configured (what a launch like it copies).
    async fn launch_config(
        &self,
        region: &str,
        instance: &str,
    ) -> ProviderResult<machines::LaunchLike> {
        let _ = (region, instance);
        Err(unsupported("describing an instance"))
    }
    /// RunInstances of `image` configured as `like` says, Name = `name`;
    /// returns the new instance's id (it is pending).
    async fn launch(
        &self,
        region: &str,
        image: &str,
        like: &machines::LaunchLike,
        name: &str,
    ) -> ProviderResult<String> {
        let _ = (region, image, like, name);
        Err(unsupported("launching an instance"))
    }
    /// The Elastic IPs of a region.
    async fn addresses(&self, region: &str) -> ProviderResult<Vec<machines::Address>> {
        let _ = region;
        Err(unsupported("listing Elastic IPs"))
    }
    /// AssociateAddress (reassociation allowed).
    async fn associate_address(
        &self,
        region: &str,
        allocation: &str,
        instance: &str,
    ) -> ProviderResult<()> {
        let _ = (region, allocation, instance);
        Err(unsupported("associating an Elastic IP"))
    }
    /// TerminateInstances; returns the state reported back.
    async fn terminate(&self, region: &str, instance: &str) -> ProviderResult<String> {
        let _ = (region, instance);
        Err(unsupported("terminating an instance"))
    }
    /// What to hand the terminal to for a shell on `instance`, or inside
    /// `container` on it.
    fn session(
        &self,
        instance: &Instance,
        container: Option<&str>,
    ) -> ProviderResult<session::SessionSpec> {
        let _ = container;
        Err(ProviderError::new(
            format!("a shell on {}", instance.id),
            "this provider opens no sessions",
        ))
    }
    /// What to run (in the background) to forward a local port to a
    /// database server through `instance`.
    fn forward(
        &self,
        instance: &Instance,
        to: &session::ForwardTo,
    ) -> ProviderResult<session::SessionSpec> {
        let _ = to;
        Err(ProviderError::new(
            format!("a port forward through {}", instance.id),
            "this provider forwards no ports",
        ))
    }
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn buckets(&self) -> ProviderResult<Vec<Bucket>>;
    /// Common prefixes and objects directly under `prefix` (delimiter `/`).
    async fn list(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>>;
    /// The same listing, handed over page by page as it arrives.
    async fn list_pages(
        &self,
        bucket: &str,
        prefix: &str,
        on_page: &mut (dyn FnMut(Vec<ObjectEntry>) + Send),
    ) -> ProviderResult<()> {
        on_page(self.list(bucket, prefix).await?);
        Ok(())
    }
    /// Keys directly under `prefix` hidden by a delete marker (to undelete them).
    async fn deleted(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>>;
    /// Every version and delete marker of `key`, newest first.
    async fn versions(&self, bucket: &str, key: &str) -> ProviderResult<Vec<ObjectVersion>>;
    /// Make an old version current again (copy it over the key); returns the new version id.
    async fn restore_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> ProviderResult<String>;
    /// Remove the delete marker hiding `key`; returns the marker's version id.
    async fn undelete(&self, bucket: &str, key: &str) -> ProviderResult<String>;
    /// Save an object (a version of it) to a local file; returns the bytes written.
    async fn download(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        to: &std::path::Path,
    ) -> ProviderResult<u64>;
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::new(what, "this provider has no EC2 lifecycle").with_kind(ErrorKind::Unsupported)
}
