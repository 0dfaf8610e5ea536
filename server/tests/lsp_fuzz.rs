//! Random input for the language server. Documents: thousands of random incremental edits
//! (ranges anywhere, in or out of the text, inside surrogate pairs, reversed) keep the rope
//! equal to a plain reference model of the protocol's rules. Protocol: 1,000 random edits
//! and requests through the server, including nonsense, never take it down.

mod support;

use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};
use tower_lsp::ls_types::{Position, Range, TextDocumentContentChangeEvent};

use self_harness::lsp::documents::Document;
use support::lsp_client::LspClient;

/// The reference: a position is clamped to its line's content (UTF-16 units, never inside a
/// character) and to the text; then the range's text is replaced.
fn reference_apply(text: &str, range: Range, new: &str) -> String {
    let offset = |p: Position| -> usize {
        let mut line_start = 0;
        for _ in 0..p.line {
            match text[line_start..].find('\n') {
                Some(i) => line_start += i + 1,
                None => return text.len(),
            }
        }
        let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
        let content_end = if text[line_start..line_end].ends_with('\r') { line_end - 1 } else { line_end };
        let mut units = 0;
        for (i, c) in text[line_start..content_end].char_indices() {
            if units + c.len_utf16() > p.character as usize {
                return line_start + i;
            }
            units += c.len_utf16();
        }
        content_end
    };
    let start = offset(range.start);
    let end = offset(range.end).max(start);
    format!("{}{new}{}", &text[..start], &text[end..])
}

fn text_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["a", "é", "😀", "漢", "\n", " ", "=", "\"", "[x]"], 0..40)
        .prop_map(|parts| parts.concat())
}

fn position() -> impl Strategy<Value = Position> {
    (0u32..8, 0u32..12).prop_map(|(l, c)| Position::new(l, c))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_match_the_reference(
        start in text_strategy(),
        edits in proptest::collection::vec((position(), position(), text_strategy()), 1..12),
    ) {
        let mut doc = Document::new(&start, 0);
        let mut reference = start.clone();
        for (n, (a, b, new)) in edits.into_iter().enumerate() {
            let range = Range::new(a, b);
            doc.apply(&[TextDocumentContentChangeEvent { range: Some(range), range_length: None, text: new.clone() }], n as i32 + 1);
            reference = reference_apply(&reference, range, &new);
            prop_assert_eq!(doc.text(), reference.clone());
        }
    }
}

/// One random thing a client might send.
#[derive(Debug, Clone)]
enum Op {
    Edit(Position, Position, String),
    Replace(String),
    Request(&'static str, Position),
    Garbage(String),
    Command(&'static str, Value),
}

fn op() -> impl Strategy<Value = Op> {
    let request = prop_oneof![
        Just("textDocument/hover"),
        Just("textDocument/completion"),
        Just("textDocument/definition"),
        Just("textDocument/codeAction"),
        Just("textDocument/codeLens"),
        Just("textDocument/inlayHint"),
    ];
    prop_oneof![
        4 => (position(), position(), text_strategy()).prop_map(|(a, b, t)| Op::Edit(a, b, t)),
        1 => text_strategy().prop_map(Op::Replace),
        4 => (request, position()).prop_map(|(r, p)| Op::Request(r, p)),
        1 => prop_oneof![
            "[ -~]{0,30}",
            Just("{}".to_string()),
            Just("[1, 2]".to_string()),
            Just("{\"jsonrpc\": \"2.0\"}".to_string()),
            Just("{\"jsonrpc\": \"2.0\", \"method\": 5}".to_string()),
            Just("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"textDocument/hover\", \"params\": 7}".to_string()),
        ].prop_map(Op::Garbage),
        1 => prop_oneof![
            Just(("selfHarness.cancel", json!({"job": "999"}))),
            Just(("selfHarness.propose", json!({"weakness": 5}))),
            Just(("selfHarness.autoApply.stop", json!(null))),
            Just(("selfHarness.nope", json!([]))),
        ].prop_map(|(c, a)| Op::Command(c, a)),
    ]
}

#[test]
fn a_thousand_random_edits_and_requests_never_take_the_server_down() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 10, ..ProptestConfig::default() });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let harness = dir.path().canonicalize().unwrap().join("harness");
    self_harness::util::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal"), &harness)
        .unwrap();
    let manifest = harness.join("harness.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    runner
        .run(&proptest::collection::vec(op(), 100), |ops| {
            runtime.block_on(async {
                let mut client = LspClient::in_process().await;
                client.initialize(dir.path(), json!({"harness": "harness"})).await;
                let uri = client.open(&manifest, &text).await;
                let mut version = 1;
                for op in ops {
                    match op {
                        Op::Edit(a, b, t) => {
                            version += 1;
                            let range = json!({"start": a, "end": b});
                            let change = json!({"textDocument": {"uri": uri, "version": version},
                                                "contentChanges": [{"range": range, "text": t}]});
                            client.notify("textDocument/didChange", change).await;
                        }
                        Op::Replace(t) => {
                            version += 1;
                            let change = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": t}]});
                            client.notify("textDocument/didChange", change).await;
                        }
                        Op::Request(method, p) => {
                            let params = json!({"textDocument": {"uri": uri}, "position": p,
                                                "range": {"start": p, "end": p}, "context": {"diagnostics": []}});
                            let _ = client.request(method, params).await;
                        }
                        Op::Garbage(body) => client.send_raw(&body).await,
                        Op::Command(command, argument) => {
                            let _ = client
                                .request("workspace/executeCommand", json!({"command": command, "arguments": [argument]}))
                                .await;
                        }
                    }
                }
                // Still serving: a known text gives the known hover.
                version += 1;
                let change = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": "name = \"x\"\n"}]});
                client.notify("textDocument/didChange", change).await;
                let hover = client
                    .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}))
                    .await
                    .expect("the server still answers");
                assert!(hover["contents"]["value"].as_str().unwrap_or_default().contains("`name`"), "{hover}");
                client.shutdown().await;
            });
            Ok(())
        })
        .unwrap();
}
