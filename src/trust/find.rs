//! `store --find`: is this certificate trusted, by which runtime, from where; if not, why,
//! and where does it exist on this filesystem.
