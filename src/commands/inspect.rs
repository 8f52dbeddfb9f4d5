//! `tlsdoctor inspect`.

use super::Ctx;
use crate::cli::InspectArgs;

pub fn run(_args: &InspectArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`inspect` is not built yet")
}
