//! Where attachments' files are kept (`[attachments] location`): a directory of this
//! machine, or with the `s3` feature an S3-compatible bucket, through `object_store`. The
//! engine writes a file before its row and removes it after its row (a crash in between
//! leaves a file no row names, never a row without its file).

use bytes::Bytes;
use hotline_core::attachment::StoreLocation;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long one write, read or removal may take before it counts as failed.
const STORAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The attachments' storage.
#[derive(Clone)]
pub struct AttachmentStore {
    inner: Arc<dyn ObjectStore>,
    /// Prepended to every key (an S3 location's prefix).
    prefix: String,
}

impl std::fmt::Debug for AttachmentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttachmentStore({})", self.inner)
    }
}

impl AttachmentStore {
    /// Opens `location`, making a directory if there is none.
    pub fn open(location: &StoreLocation) -> anyhow::Result<AttachmentStore> {
        match location {
            StoreLocation::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("attachments.location {}: {e}", dir.display()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
                Ok(AttachmentStore {
                    inner: Arc::new(store),
                    prefix: String::new(),
                })
            }
            StoreLocation::S3 { bucket, prefix } => s3(bucket, prefix),
        }
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Writes `bytes` under `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path(key);
        tokio::time::timeout(
            STORAGE_TIMEOUT,
            self.inner.put(&path, PutPayload::from_bytes(bytes)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("writing an attachment timed out"))??;
        Ok(())
    }

    /// The bytes under `key`.
    pub async fn get(&self, key: &str) -> anyhow::Result<Bytes> {
        let path = self.path(key);
        let read = async { self.inner.get(&path).await?.bytes().await };
        Ok(tokio::time::timeout(STORAGE_TIMEOUT, read)
            .await
            .map_err(|_| anyhow::anyhow!("reading an attachment timed out"))??)
    }

    /// Removes `key`; one already gone is removed.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path(key);
        match tokio::time::timeout(STORAGE_TIMEOUT, self.inner.delete(&path)).await {
            Err(_) => anyhow::bail!("removing an attachment timed out"),
            Ok(Ok(())) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
        }
    }
}

#[cfg(feature = "s3")]
fn s3(bucket: &str, prefix: &str) -> anyhow::Result<AttachmentStore> {
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()?;
    Ok(AttachmentStore {
        inner: Arc::new(store),
        prefix: prefix.to_owned(),
    })
}

#[cfg(not(feature = "s3"))]
fn s3(_bucket: &str, _prefix: &str) -> anyhow::Result<AttachmentStore> {
    anyhow::bail!(
        "attachments.location is an S3 bucket, but this engine was built without S3: build it with `cargo build --release --features s3`, or name a directory"
    )
}

/// The SHA-256 of `bytes`, in hex: recorded with each file, to tell it unchanged.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_written_reads_back_and_is_gone_once_removed() {
        let dir = std::env::temp_dir().join(format!("hotline-attachments-{}", std::process::id()));
        let store = AttachmentStore::open(&StoreLocation::Directory(dir.clone())).unwrap();
        store
            .put("orders/PT1/a", Bytes::from_static(b"%PDF-1.7"))
            .await
            .unwrap();
        assert_eq!(
            store.get("orders/PT1/a").await.unwrap(),
            Bytes::from_static(b"%PDF-1.7")
        );
        store.delete("orders/PT1/a").await.unwrap();
        assert!(store.get("orders/PT1/a").await.is_err());
        // Removing twice is not a failure: retention may be interrupted between file and row.
        store.delete("orders/PT1/a").await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
