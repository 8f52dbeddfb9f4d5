//! `tlsdoctor connect`.

use super::Ctx;
use crate::cli::ConnectArgs;

pub fn run(_args: &ConnectArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`connect` is not built yet")
}
