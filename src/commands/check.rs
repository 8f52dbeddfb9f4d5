//! `tlsdoctor check`.

use super::Ctx;
use crate::cli::CheckArgs;

pub fn run(_args: &CheckArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`check` is not built yet")
}
