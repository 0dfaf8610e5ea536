//! The language server (see docs/lsp.md).
pub mod actions;
pub mod jobs;
pub mod marks;
pub mod settings;
pub mod stages;
pub mod store_view;
pub mod weaknesses;
