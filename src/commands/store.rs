//! `tlsdoctor store`.

use super::Ctx;
use crate::cli::StoreArgs;

pub fn run(_args: &StoreArgs, _ctx: &Ctx) -> anyhow::Result<u8> {
    anyhow::bail!("`store` is not built yet")
}
