//! report — human text and JSON renderers over one data model.

pub mod human;
pub mod json;
pub mod sanitize;
pub mod store;
pub mod style;
