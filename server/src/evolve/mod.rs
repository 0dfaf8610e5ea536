//! The self-improvement loop: splits, mine → propose → validate, auto-apply, the ledger.
pub mod ledger;
