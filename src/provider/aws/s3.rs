//! S3: buckets with their posture (absent configurations are "none", not
//! errors), objects by prefix with a delimiter, versions and delete markers
//! of a key, restore of an old version, undelete, download.

use crate::domain::{Bucket, ObjectEntry, ObjectVersion};
use crate::provider::{ObjectStore, ProviderError, ProviderResult};
use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::RwLock;

/// Characters left as they are in a copy source (`bucket/key?versionId=`).
const KEY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct S3Store {
    base: aws_config::SdkConfig,
    path_style: bool,
    /// Clients by region, made on first use.
    clients: RwLock<HashMap<String, aws_sdk_s3::Client>>,
    bucket_regions: RwLock<HashMap<String, String>>,
    home_region: String,
}

pub(super) fn ts(d: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    d.and_then(|d| Utc.timestamp_opt(d.secs(), d.subsec_nanos()).single())
        .unwrap_or_default()
}

pub(super) fn err<E>(context: String, e: E) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    super::error(context, &e)
}

impl S3Store {
    /// `path_style` when an endpoint is overridden (moto, MinIO, LocalStack).
    pub fn new(base: aws_config::SdkConfig, home_region: String, path_style: bool) -> Self {
        Self {
            base,
            path_style,
            clients: RwLock::new(HashMap::new()),
            bucket_regions: RwLock::new(HashMap::new()),
            home_region,
        }
    }

    fn client_in(&self, region: &str) -> aws_sdk_s3::Client {
        if let Some(c) = self
            .clients
            .read()
            .ok()
            .and_then(|m| m.get(region).cloned())
        {
            return c;
        }
        let conf = aws_sdk_s3::config::Builder::from(&self.base)
            .region(aws_sdk_s3::config::Region::new(region.to_string()))
            .force_path_style(self.path_style)
            .build();
        let c = aws_sdk_s3::Client::from_conf(conf);
        if let Ok(mut m) = self.clients.write() {
            m.insert(region.to_string(), c.clone());
        }
        c
    }

    async fn region_of(&self, bucket: &str) -> ProviderResult<String> {
        if let Some(r) = self
            .bucket_regions
            .read()
            .ok()
            .and_then(|m| m.get(bucket).cloned())
        {
            return Ok(r);
        }
        let out = self
            .client_in(&self.home_region)
            .get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| err(format!("locating s3://{bucket}"), e.into_service_error()))?;
        let region = match out.location_constraint().map(|c| c.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(r) => r.to_string(),
        };
        if let Ok(mut m) = self.bucket_regions.write() {
            m.insert(bucket.to_string(), region.clone());
        }
        Ok(region)
    }

    pub(super) async fn client_for(&self, bucket: &str) -> ProviderResult<aws_sdk_s3::Client> {
        Ok(self.client_in(&self.region_of(bucket).await?))
    }

    async fn describe(&self, name: String) -> ProviderResult<Bucket> {
        let region = self.region_of(&name).await?;
        let c = self.client_in(&region);
        let (ver, enc, pab, life) = tokio::join!(
            c.get_bucket_versioning().bucket(&name).send(),
            c.get_bucket_encryption().bucket(&name).send(),
            c.get_public_access_block().bucket(&name).send(),
            c.get_bucket_lifecycle_configuration().bucket(&name).send(),
        );
        // One unreadable setting must not hide the bucket list: it shows as
        // "unknown" and the reason goes to the log.
        let unknown = |what: &str, e: ProviderError| {
            tracing::warn!(bucket = %name, "{what}: {e}");
            "unknown".to_string()
        };
        let versioning = match ver {
            Ok(v) => v
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "none".into()),
            Err(e) => unknown(
                "versioning",
                err(format!("versioning of s3://{name}"), e.into_service_error()),
            ),
        };
        let encryption = match enc {
            Ok(e) => e
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string())
                .unwrap_or_else(|| "none".into()),
            Err(e) => {
                let se = e.into_service_error();
                if se.code() == Some("ServerSideEncryptionConfigurationNotFoundError") {
                    "none".into()
                } else {
                    unknown("encryption", err(format!("encryption of s3://{name}"), se))
                }
            }
        };
        let public_access_block = match pab {
            Ok(p) => match p.public_access_block_configuration() {
                Some(c) => {
                    let flags = [
                        c.block_public_acls(),
                        c.ignore_public_acls(),
                        c.block_public_policy(),
                        c.restrict_public_buckets(),
                    ];
                    let on = flags.iter().filter(|f| f.unwrap_or(false)).count();
                    match on {
                        4 => "all blocked".to_string(),
                        0 => "none".to_string(),
                        n => format!("partial ({n}/4)"),
                    }
                }
                None => "none".into(),
            },
            Err(e) => {
                let se = e.into_service_error();
                if se.code() == Some("NoSuchPublicAccessBlockConfiguration") {
                    "none".into()
                } else {
                    unknown(
                        "public access block",
                        err(format!("public access block of s3://{name}"), se),
                    )
                }
            }
        };
        let lifecycle = match life {
            Ok(l) => {
                let parts: Vec<String> = l
                    .rules()
                    .iter()
                    .flat_map(|r| {
                        let mut v: Vec<String> = r
                            .transitions()
                            .iter()
                            .map(|t| {
                                format!(
                                    "{}@{}d",
                                    t.storage_class().map(|s| s.as_str()).unwrap_or("?"),
                                    t.days().unwrap_or(0)
                                )
                            })
                            .collect();
                        if let Some(d) = r.expiration().and_then(|e| e.days()) {
                            v.push(format!("expire@{d}d"));
                        }
                        if let Some(d) = r
                            .noncurrent_version_expiration()
                            .and_then(|e| e.noncurrent_days())
                        {
                            v.push(format!("expire noncurrent@{d}d"));
                        }
                        v
                    })
                    .collect();
                if parts.is_empty() {
                    "none".into()
                } else {
                    parts.join(", ")
                }
            }
            Err(e) => {
                let se = e.into_service_error();
                if se.code() == Some("NoSuchLifecycleConfiguration") {
                    "none".into()
                } else {
                    unknown("lifecycle", err(format!("lifecycle of s3://{name}"), se))
                }
            }
        };
        Ok(Bucket {
            name,
            region,
            versioning,
            encryption,
            public_access_block,
            lifecycle,
        })
    }

    /// Walk ListObjectVersions under `prefix` page by page; `on_page`
    /// returns false to stop early.
    async fn version_pages(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        context: &str,
        mut on_page: impl FnMut(
            &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
        ) -> bool,
    ) -> ProviderResult<()> {
        let c = self.client_for(bucket).await?;
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = c
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_string))
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| err(context.to_string(), e.into_service_error()))?;
            if !on_page(&page) || page.is_truncated() != Some(true) {
                return Ok(());
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn buckets(&self) -> ProviderResult<Vec<Bucket>> {
        let out = self
            .client_in(&self.home_region)
            .list_buckets()
            .send()
            .await
            .map_err(|e| err("listing buckets".into(), e.into_service_error()))?;
        let names: Vec<String> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect();
        // Describe buckets concurrently, eight at a time, in listing order.
        use futures::StreamExt;
        let result: Vec<ProviderResult<Bucket>> =
            futures::stream::iter(names.into_iter().map(|n| self.describe(n)))
                .buffered(8)
                .collect()
                .await;
        let result = result
            .into_iter()
            .collect::<ProviderResult<Vec<Bucket>>>()?;
        Ok(result)
    }

    /// Copy `version_id` of `key` over the key: it becomes the current version.
    async fn restore_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: &str,
    ) -> ProviderResult<String> {
        let c = self.client_for(bucket).await?;
        let source = format!(
            "{bucket}/{}?versionId={}",
            percent_encoding::utf8_percent_encode(key, KEY_SET),
            percent_encoding::utf8_percent_encode(version_id, KEY_SET)
        );
        let out = c
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| {
                err(
                    format!("restoring s3://{bucket}/{key} to version {version_id}"),
                    e.into_service_error(),
                )
            })?;
        Ok(out.version_id().unwrap_or_default().to_string())
    }

    /// Remove the delete marker that hides `key` (the newest one).
    async fn undelete(&self, bucket: &str, key: &str) -> ProviderResult<String> {
        let versions = self.versions(bucket, key).await?;
        let marker = versions
            .iter()
            .find(|v| v.is_latest && v.is_delete_marker)
            .ok_or_else(|| {
                ProviderError::new(
                    format!("undeleting s3://{bucket}/{key}"),
                    "the key is not deleted (its latest version is not a delete marker)",
                )
            })?;
        let c = self.client_for(bucket).await?;
        c.delete_object()
            .bucket(bucket)
            .key(key)
            .version_id(&marker.version_id)
            .send()
            .await
            .map_err(|e| {
                err(
                    format!("undeleting s3://{bucket}/{key}"),
                    e.into_service_error(),
                )
            })?;
        Ok(marker.version_id.clone())
    }

    /// Download an object (a version of it) to a local file; returns the bytes written.
    async fn download(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        to: &std::path::Path,
    ) -> ProviderResult<u64> {
        use tokio::io::AsyncWriteExt;
        let ctx = || format!("downloading s3://{bucket}/{key} to {}", to.display());
        let c = self.client_for(bucket).await?;
        let mut out = c
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| err(ctx(), e.into_service_error()))?;
        let tmp = to.with_extension("opsdeck-part");
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| ProviderError::new(ctx(), e))?;
        let mut n = 0u64;
        while let Some(chunk) = out.body.next().await {
            let chunk = chunk.map_err(|e| ProviderError::new(ctx(), e))?;
            n += chunk.len() as u64;
            f.write_all(&chunk)
                .await
                .map_err(|e| ProviderError::new(ctx(), e))?;
        }
        f.flush().await.map_err(|e| ProviderError::new(ctx(), e))?;
        tokio::fs::rename(&tmp, to)
            .await
            .map_err(|e| ProviderError::new(ctx(), e))?;
        Ok(n)
    }

    /// List by prefix, handing each page to `on_page` as it arrives.
    async fn list_pages(
        &self,
        bucket: &str,
        prefix: &str,
        on_page: &mut (dyn FnMut(Vec<ObjectEntry>) + Send),
    ) -> ProviderResult<()> {
        let c = self.client_for(bucket).await?;
        let mut pages = c
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                err(
                    format!("listing s3://{bucket}/{prefix}"),
                    e.into_service_error(),
                )
            })?;
            let mut rows: Vec<ObjectEntry> = page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(|p| ObjectEntry::Prefix(p.to_string())))
                .collect();
            rows.extend(page.contents().iter().map(|o| {
                ObjectEntry::Object {
                    key: o.key().unwrap_or_default().to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    storage_class: o
                        .storage_class()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "STANDARD".into()),
                    last_modified: ts(o.last_modified()),
                }
            }));
            on_page(rows);
        }
        Ok(())
    }

    async fn deleted(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>> {
        let mut out = Vec::new();
        let context = format!("listing deleted keys in s3://{bucket}/{prefix}");
        self.version_pages(bucket, prefix, Some("/"), &context, |page| {
            out.extend(
                page.delete_markers()
                    .iter()
                    .filter(|m| m.is_latest() == Some(true))
                    .filter_map(|m| {
                        Some(ObjectEntry::Deleted {
                            key: m.key()?.to_string(),
                            deleted_at: ts(m.last_modified()),
                        })
                    }),
            );
            true
        })
        .await?;
        Ok(out)
    }

    async fn list(&self, bucket: &str, prefix: &str) -> ProviderResult<Vec<ObjectEntry>> {
        let mut all = Vec::new();
        self.list_pages(bucket, prefix, &mut |page| all.extend(page))
            .await?;
        Ok(all)
    }

    async fn versions(&self, bucket: &str, key: &str) -> ProviderResult<Vec<ObjectVersion>> {
        let mut out = Vec::new();
        let context = format!("listing versions of s3://{bucket}/{key}");
        self.version_pages(bucket, key, None, &context, |page| {
            for v in page.versions().iter().filter(|v| v.key() == Some(key)) {
                out.push(ObjectVersion {
                    key: key.to_string(),
                    version_id: v.version_id().unwrap_or("null").to_string(),
                    is_latest: v.is_latest().unwrap_or(false),
                    is_delete_marker: false,
                    size: v.size().unwrap_or(0).max(0) as u64,
                    last_modified: ts(v.last_modified()),
                });
            }
            for m in page
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
            {
                out.push(ObjectVersion {
                    key: key.to_string(),
                    version_id: m.version_id().unwrap_or("null").to_string(),
                    is_latest: m.is_latest().unwrap_or(false),
                    is_delete_marker: true,
                    size: 0,
                    last_modified: ts(m.last_modified()),
                });
            }
            // Past our key: nothing more of it can follow.
            page.next_key_marker().is_none_or(|k| k <= key)
        })
        .await?;
        out.sort_by(|a, b| {
            b.is_latest
                .cmp(&a.is_latest)
                .then(b.last_modified.cmp(&a.last_modified))
        });
        Ok(out)
    }
}
