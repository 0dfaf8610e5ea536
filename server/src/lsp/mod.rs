//! The language server (see docs/lsp.md).
pub mod actions;
pub mod marks;
pub mod store_view;
pub mod weaknesses;
