//! The language server: `self-harness lsp` speaks LSP over stdio (docs/lsp.md). Harness
//! files are documents with diagnostics, hover, completion and go-to-definition; mined
//! weaknesses are diagnostics, proposals code actions, validation runs as jobs with
//! progress and ends in marks. A thin front end: the stages do the work.
//!
//! Modules follow the capabilities: `documents` (sync, UTF-16), `harness_files` (language
//! features), `store_view` (what the store says), `weaknesses` (as diagnostics),
//! `actions` (code actions, resolve, proposed text), `marks` (code lenses, inlay hints,
//! rejected edits), `jobs` (progress, cancel), `stages` (the work behind commands),
//! `settings`, and `server` (the protocol layer).

pub mod actions;
pub mod documents;
pub mod harness_files;
pub mod jobs;
pub mod marks;
pub mod server;
pub mod settings;
pub mod stages;
pub mod store_view;
pub mod transport;
pub mod weaknesses;

use tower_lsp::LspService;

pub use server::Server;

/// The service with every custom method registered: for stdio, and for in-process tests.
pub fn service() -> (LspService<Server>, tower_lsp::ClientSocket) {
    LspService::build(Server::new)
        .custom_method("selfHarness/proposedText", Server::proposed_text)
        .custom_method("selfHarness/state", Server::side_bar_state)
        .custom_method("window/workDoneProgress/cancel", Server::progress_cancel)
        .custom_method(transport::INVALID_MESSAGE, Server::invalid_message)
        .finish()
}

/// Serves LSP on stdin/stdout until the client exits.
pub async fn serve_stdio() {
    serve(tokio::io::stdin(), tokio::io::stdout()).await;
}

/// Serves LSP over any pair of streams (stdio, or a pipe in tests) until the client exits.
pub async fn serve(
    input: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    output: impl tokio::io::AsyncWrite + Unpin + Send + 'static,
) {
    let (service, socket) = service();
    // One message at a time: every handler is quick (long work runs as jobs), and document
    // changes must apply in the order they were sent.
    let transport = tower_lsp::Server::new(transport::sanitized(input), output, socket);
    transport.concurrency_level(1).serve(service).await;
}
