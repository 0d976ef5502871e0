//! [`LakeRoot`]: where the lakehouse tier keeps its Delta tables.
//!
//! A local directory by default (`<data-dir>`), or an object-store URL (`s3://bucket/prefix`).
//! For S3, credentials and endpoint come from the usual `AWS_*` environment variables, which
//! are passed to deltalake as storage options.

use std::collections::HashMap;
use std::path::Path;

use url::Url;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct LakeRoot {
    url: Url,
    storage_options: HashMap<String, String>,
}

impl LakeRoot {
    /// A lakehouse in a local directory, which is created if missing.
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let url = Url::from_directory_path(&dir).map_err(|()| Error::InvalidLocation {
            location: dir.display().to_string(),
            reason: "not an absolute directory path".into(),
        })?;
        Ok(Self {
            url,
            storage_options: HashMap::new(),
        })
    }

    /// A lakehouse at an object-store URL such as `s3://bucket/prefix`.
    pub fn from_url(location: &str) -> Result<Self> {
        let mut url = Url::parse(location).map_err(|e| Error::InvalidLocation {
            location: location.into(),
            reason: e.to_string(),
        })?;
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| Error::InvalidLocation {
                location: location.into(),
                reason: "not a local path".into(),
            })?;
            return Self::local(&path);
        }
        if url.scheme() != "s3" && url.scheme() != "memory" {
            return Err(Error::InvalidLocation {
                location: location.into(),
                reason: "supported schemes are file://, s3:// and memory://".into(),
            });
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(Self {
            url,
            storage_options: s3_options_from_env(),
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn is_local(&self) -> bool {
        self.url.scheme() == "file"
    }

    pub fn storage_options(&self) -> &HashMap<String, String> {
        &self.storage_options
    }

    /// The URL of the table stored at `location` (relative to the root).
    pub fn table_url(&self, location: &str) -> Result<Url> {
        self.url
            .join(&format!("{}/", location.trim_end_matches('/')))
            .map_err(|e| Error::InvalidLocation {
                location: location.into(),
                reason: e.to_string(),
            })
    }
}

/// The `AWS_*` environment variables as deltalake storage options (keys lower-cased, as
/// object_store's `AmazonS3ConfigKey` parses them).
///
/// Each `_delta_log` commit is made atomic on S3 by a conditional write (`If-None-Match: *`,
/// object_store's `PutMode::Create`), which deltalake 1.x uses by default with object_store
/// 0.13: no DynamoDB lock and no `AWS_S3_ALLOW_UNSAFE_RENAME` are needed. The S3 server must
/// honour the condition (AWS S3, MinIO and moto do; s3rver does not).
fn s3_options_from_env() -> HashMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_urls_nest_under_the_root() {
        let root = LakeRoot::from_url("s3://lake/prefix").unwrap();
        assert_eq!(
            root.table_url("tables/public/t").unwrap().as_str(),
            "s3://lake/prefix/tables/public/t/"
        );
        let dir = tempfile::tempdir().unwrap();
        let local = LakeRoot::local(dir.path()).unwrap();
        assert!(
            local
                .table_url("tables/s/t")
                .unwrap()
                .path()
                .ends_with("/tables/s/t/")
        );
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(matches!(
            LakeRoot::from_url("ftp://x/y"),
            Err(Error::InvalidLocation { .. })
        ));
    }
}
