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

    /// The URL of the table stored at `location` (relative to the root), which is always
    /// strictly under the root.
    ///
    /// Locations of new tables are `tables/<id>`; older catalogs hold `tables/<schema>/<name>`
    /// built from raw names, so a location is checked before it is resolved: it must be a
    /// relative path of plain segments (no `.` or `..`, also not percent-encoded, no empty
    /// segment, no `\`, `#`, `?` or control character, no encoded `/` or `\`, no scheme),
    /// and the URL it resolves to must start with the root's URL. `Url::join` alone would
    /// apply `..`, `%2e%2e`, `#` and `?` and could leave the root (review D2).
    pub fn table_url(&self, location: &str) -> Result<Url> {
        let refuse = |reason: &str| Error::InvalidLocation {
            location: location.into(),
            reason: format!("{reason}; a table location must stay under the lake root"),
        };
        check_relative_location(location).map_err(|reason| refuse(reason))?;
        let url = self
            .url
            .join(&format!("{location}/"))
            .map_err(|e| refuse(&e.to_string()))?;
        let inside = url.as_str().starts_with(self.url.as_str())
            && url.as_str().len() > self.url.as_str().len()
            && url.query().is_none()
            && url.fragment().is_none();
        if !inside {
            return Err(refuse(&format!(
                "it resolves to {url}, outside {}",
                self.url
            )));
        }
        Ok(url)
    }
}

/// Why `location` is not a plain relative path, if it is not (see [`LakeRoot::table_url`]).
fn check_relative_location(location: &str) -> std::result::Result<(), &'static str> {
    if location.is_empty() {
        return Err("it is empty");
    }
    if location.starts_with('/') {
        return Err("it is absolute");
    }
    if location
        .chars()
        .any(|c| matches!(c, '\\' | '#' | '?') || c.is_control())
    {
        return Err("it contains one of \\ # ? or a control character");
    }
    // `x:` before the first `/` would parse as a URL scheme (`s3:`, `file:`).
    if location
        .split('/')
        .next()
        .is_some_and(|first| first.contains(':'))
    {
        return Err("it starts with a URL scheme");
    }
    for segment in location.split('/') {
        if segment.is_empty() {
            return Err("it has an empty path segment");
        }
        let decoded = decode_dots(segment);
        if decoded == "." || decoded == ".." {
            return Err("it has a . or .. path segment");
        }
        if segment.to_ascii_lowercase().contains("%2f")
            || segment.to_ascii_lowercase().contains("%5c")
        {
            return Err("it has an encoded path separator");
        }
    }
    Ok(())
}

/// `segment` with `%2e` (either case) decoded to `.`, the one escape a URL parser treats as
/// part of a dot segment.
fn decode_dots(segment: &str) -> String {
    segment.replace("%2e", ".").replace("%2E", ".")
}

/// The `AWS_*` environment variables as deltalake storage options (keys lower-cased, as
/// object_store's `AmazonS3ConfigKey` parses them).
///
/// Each `_delta_log` commit is made atomic on S3 by a conditional write (`If-None-Match: *`,
/// object_store's `PutMode::Create`), which deltalake 1.x uses by default with object_store
/// 0.13: no DynamoDB lock and no `AWS_S3_ALLOW_UNSAFE_RENAME` are needed. The S3 server must
/// honour the condition (AWS S3, MinIO and moto do; s3rver does not).
pub fn s3_options_from_env() -> HashMap<String, String> {
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
            root.table_url("tables/0c6f-id").unwrap().as_str(),
            "s3://lake/prefix/tables/0c6f-id/"
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
        // Legacy name-based locations with harmless characters keep resolving.
        assert!(
            local
                .table_url("tables/public/with space.and dot")
                .unwrap()
                .as_str()
                .starts_with(local.url().as_str())
        );
    }

    #[test]
    fn locations_that_leave_their_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let local = LakeRoot::local(dir.path()).unwrap();
        let s3 = LakeRoot::from_url("s3://lake/prefix").unwrap();
        for location in [
            "tables/public/..",
            "tables/public/../../wal",
            "tables/public/%2e%2e",
            "tables/public/%2E%2e/x",
            "tables/public/.",
            "tables/public/a#x",
            "tables/public/a?b",
            "tables/public/a\\..\\..",
            "tables/public/a%2f..",
            "tables//x",
            "/etc",
            "//host/x",
            "s3://other/x",
            "file:///etc",
            "",
        ] {
            for root in [&local, &s3] {
                assert!(
                    matches!(root.table_url(location), Err(Error::InvalidLocation { .. })),
                    "{location:?} under {}",
                    root.url()
                );
            }
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(matches!(
            LakeRoot::from_url("ftp://x/y"),
            Err(Error::InvalidLocation { .. })
        ));
    }
}
