//! vmpi
pub mod error;
