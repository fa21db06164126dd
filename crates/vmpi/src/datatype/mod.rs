//! Datatypes: the predefined element types ([`Basic`]) and, built on them, derived
//! datatypes ([`Datatype`]) with their type maps, pack and unpack. This layer knows
//! nothing above it: no communicators, no requests, no handles.
//!
//! - `basic`: predefined element kinds, sizes, alignments, external32 parts.
//! - `typemap`: the compact type-map tree and its walks (safe code).
//! - `types`: the constructors, bounds, envelope/contents, segments, element counts.
//! - `layouts`: subarray and darray, built from the standard's definitions.
//! - `pack`: pack/unpack, native and external32 (the only `unsafe` in this layer).

pub mod basic;
mod layouts;
mod pack;
mod typemap;
mod types;

pub use basic::Basic;
pub use types::{Combiner, Datatype, Distrib, Order};

#[cfg(test)]
mod tests;
