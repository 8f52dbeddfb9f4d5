//! tlsdoctor — diagnose TLS trust errors.
//!
//! Three questions, each with one home (see `shared/design/ARCHITECTURE.md`):
//! - [`trust`]: what would this program, in this environment, trust?
//! - [`probe`]: what does the server actually present?
//! - [`diagnose`]: would it verify, and if not, why, and what fixes it?
//!
//! [`report`] renders the data as human text or JSON; [`commands`] glue the three together,
//! one module per subcommand; `main.rs` parses, runs and maps the outcome to an exit code.
//! Every file and environment lookup about the evaluated system goes through [`world::World`].

pub mod cli;
pub mod commands;
pub mod detect;
pub mod diagnose;
pub mod finding;
pub mod fsio;
#[doc(hidden)]
pub mod fuzzing;
pub mod probe;
pub mod report;
pub mod runtimes;
pub mod trust;
pub mod world;
pub mod x509;

/// Exit codes (CLI.md).
pub mod exit {
    /// Every selected runtime would accept.
    pub const OK: u8 = 0;
    /// A diagnosis: at least one selected runtime would reject.
    pub const DIAGNOSIS: u8 = 1;
    /// Usage or input error.
    pub const USAGE: u8 = 2;
    /// The target could not be examined.
    pub const UNREACHABLE: u8 = 3;
}
