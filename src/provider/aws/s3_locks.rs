//! The run locks of [`crate::provider::run_locks`] in S3: one object per
//! lock under `opsdeck/locks/` in the context's `locks_bucket`, written
//! with `If-None-Match: *`, renewed and taken over with `If-Match` on its
//! ETag, deleted with `If-Match` (AWS S3 User Guide: conditional writes
//! and conditional deletes). A 412 is the lock's answer, not an error.

use super::s3::{S3Store, err};
use crate::provider::ProviderResult;
use crate::provider::run_locks::{LockStore, Take};
use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use std::sync::Arc;

pub struct S3Locks {
    store: Arc<S3Store>,
    bucket: String,
}

impl S3Locks {
    pub fn new(store: Arc<S3Store>, bucket: String) -> S3Locks {
        S3Locks { store, bucket }
    }

    fn what(&self, name: &str) -> String {
        format!("the lock s3://{}/{}", self.bucket, key(name))
    }

    /// The lock as it is now (absent: `None`).
    async fn read(&self, name: &str) -> ProviderResult<Option<Take>> {
        let c = self.store.client_for(&self.bucket).await?;
        let out = match c
            .get_object()
            .bucket(&self.bucket)
            .key(key(name))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(err(self.what(name), e.into_service_error())),
        };
        let tag = out.e_tag().unwrap_or_default().to_string();
        let modified = out.last_modified().map(|d| super::s3::ts(Some(d)));
        let record = out
            .body
            .collect()
            .await
            .map(|b| b.into_bytes().to_vec())
            .unwrap_or_default();
        let age = modified.and_then(|m| (chrono::Utc::now() - m).to_std().ok());
        Ok(Some(Take::Held { record, tag, age }))
    }

    /// A put of `record`, conditional on `cond` (`If-None-Match: *` or
    /// `If-Match: tag`): Ok(Some(new tag)), Ok(None) on 412.
    async fn put(
        &self,
        name: &str,
        record: &[u8],
        cond: Cond<'_>,
    ) -> ProviderResult<Option<String>> {
        let c = self.store.client_for(&self.bucket).await?;
        let mut req = c
            .put_object()
            .bucket(&self.bucket)
            .key(key(name))
            .content_type("application/json")
            .body(ByteStream::from(record.to_vec()));
        req = match cond {
            Cond::Absent => req.if_none_match("*"),
            Cond::Tag(t) => req.if_match(t),
        };
        match req.send().await {
            Ok(o) => Ok(Some(o.e_tag().unwrap_or_default().to_string())),
            // 412: the condition failed; 409: a write met ours (S3 says
            // retry): both are "not ours".
            Err(e) if matches!(status(&e), Some(412 | 409 | 404)) => Ok(None),
            Err(e) => Err(err(self.what(name), e.into_service_error())),
        }
    }

    /// After a put that was not ours: the lock as it is now.
    async fn found(&self, name: &str) -> ProviderResult<Take> {
        Ok(self.read(name).await?.unwrap_or(Take::Held {
            record: Vec::new(),
            tag: String::new(),
            age: None,
        }))
    }
}

/// Lock `name`'s object key.
fn key(name: &str) -> String {
    format!("opsdeck/locks/{name}.json")
}

enum Cond<'a> {
    Absent,
    Tag(&'a str),
}

fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[async_trait]
impl LockStore for S3Locks {
    fn place(&self) -> String {
        format!("s3://{}/opsdeck/locks", self.bucket)
    }

    async fn take(&self, name: &str, record: &[u8]) -> ProviderResult<Take> {
        match self.put(name, record, Cond::Absent).await? {
            Some(tag) => Ok(Take::Took { tag }),
            None => self.found(name).await,
        }
    }

    async fn take_over(&self, name: &str, record: &[u8], stale: &str) -> ProviderResult<Take> {
        match self.put(name, record, Cond::Tag(stale)).await? {
            Some(tag) => Ok(Take::Took { tag }),
            None => self.found(name).await,
        }
    }

    async fn renew(&self, name: &str, record: &[u8], tag: &str) -> ProviderResult<bool> {
        Ok(self.put(name, record, Cond::Tag(tag)).await?.is_some())
    }

    async fn release(&self, name: &str, tag: &str) -> ProviderResult<bool> {
        let c = self.store.client_for(&self.bucket).await?;
        match c
            .delete_object()
            .bucket(&self.bucket)
            .key(key(name))
            .if_match(tag)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if matches!(status(&e), Some(412 | 404)) => Ok(false),
            Err(e) => Err(err(self.what(name), e.into_service_error())),
        }
    }
}
