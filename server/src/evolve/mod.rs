//! The self-improvement loop: splits, mine → propose → validate, auto-apply, the ledger.
pub mod episodes;
pub mod iterate;
pub mod ledger;
pub mod mining;
pub mod splits;
pub mod validation;
