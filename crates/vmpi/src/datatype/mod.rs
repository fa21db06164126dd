//! Datatypes: the predefined element types ([`Basic`]) and, built on them, derived
//! datatypes with their type maps, pack and unpack.

pub mod basic;

pub use basic::Basic;
