//! `tlsdoctor verify`.

use super::Ctx;
use crate::cli::VerifyArgs;

pub fn run(_args: &VerifyArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`verify` is not built yet")
}
