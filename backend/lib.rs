//! llpar: LLVM optimization and code generation of one module on every core.
//!
//! The stages, one module each: [`plan`] chunks of functions, [`split`] the module into chunk
//! modules, run the function passes on [`worker`] threads, [`merge`] the results back, and the
//! [`engine`] that strings them together with the module-level passes and emission. All calls into
//! LLVM go through [`llvm`]. [`units`] cuts a module into codegen units that compile alone
//! (`llpar split`) and links them back (`llpar merge`).
pub mod admission;
pub mod cleanup;
pub mod codegen;
pub mod crash;
pub mod engine;
pub mod error;
pub mod jobserver;
pub mod llvm;
pub mod merge;
pub mod parallel;
pub mod pipeline;
pub mod plan;
pub mod split;
pub mod trace;
pub mod units;
pub mod worker;
