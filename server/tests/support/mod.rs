//! Test doubles shared by integration tests that need no Docker engine. Use it with
//! `mod support;` from a test file in `server/tests/`.
#![allow(dead_code, unused_imports)]

pub mod corpus;
pub mod ledger;
pub mod lsp_client;
pub mod prepared_store;
pub mod scripted_model;
pub mod vim_project;

pub use scripted_model::{RecordedRequest, Reply, Responder, ScriptedModel};
