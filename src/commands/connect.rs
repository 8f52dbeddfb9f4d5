//! `tlsdoctor connect`.

use std::path::PathBuf;
use std::time::Duration;

use super::Ctx;
use crate::cli::{ConnectArgs, StarttlsArg};
use crate::report::json::Document;
use crate::trust::Runtime;

/// Everything `connect` needs, independent of clap (also built by `check` from a spec).
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub target: String,
    pub starttls: StarttlsArg,
    pub servername: Option<String>,
    pub name: Option<String>,
    /// Explicit CA files (host paths); empty = each runtime's resolved store.
    pub ca: Vec<PathBuf>,
    /// Empty = every runtime whose store resolves here.
    pub runtimes: Vec<Runtime>,
    pub timeout: Duration,
    /// None = from the environment (HTTPS_PROXY/NO_PROXY); Some("") = never.
    pub proxy: Option<String>,
    pub alpn: Vec<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Evaluate at this Unix time instead of now.
    pub at: Option<i64>,
}

/// Examine one target: resolve, connect, dialogue, handshake, diagnose. `Err` only for
/// usage/input errors (unreadable --ca, bad target syntax); network failures are data in
/// the document (`error`).
pub fn examine(_req: &ConnectRequest, _ctx: &Ctx) -> anyhow::Result<Document> {
    anyhow::bail!("`connect` is not built yet")
}

/// The exit code for one document (CLI.md): 0 all trusted, 1 a diagnosis, 3 unreachable.
pub fn exit_code(doc: &Document) -> u8 {
    if doc.error.is_some() && doc.chain.is_empty() {
        crate::exit::UNREACHABLE
    } else if !doc.verdicts.is_empty() && doc.verdicts.iter().all(|v| v.trusted) {
        crate::exit::OK
    } else {
        crate::exit::DIAGNOSIS
    }
}

pub fn run(_args: &ConnectArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`connect` is not built yet")
}
