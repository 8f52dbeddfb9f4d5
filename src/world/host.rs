//! This machine: `/` and the tool's own environment.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

/// The tool's own environment, as the World's.
pub fn env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k.as_bytes()).into_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}
