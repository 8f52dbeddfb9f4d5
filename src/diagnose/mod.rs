//! diagnose — *would it verify, and if not, why, and what fixes it?*
//!
//! Evaluates a presented chain against each runtime's store, name and clock; classifies
//! every problem into a stable [`Cause`]; renders the message that runtime would print.

pub mod cause;

pub use cause::Cause;
