//! The wire in front of the server. tower-lsp stops reading for good after one message it
//! cannot decode; an editor (or anything else) that sends one bad message must not take the
//! server down. So every frame is read here first: well-formed JSON passes through
//! untouched, anything else becomes a `selfHarness/invalidMessage` notification that the
//! server reports to the client, and reading goes on.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// The largest message accepted (a 2,000-line harness file is about 100 KB).
const MAX_MESSAGE: usize = 64 << 20;

/// The method of the notification that stands in for an unreadable message.
pub const INVALID_MESSAGE: &str = "selfHarness/invalidMessage";

/// `input`, with every unreadable message replaced by an [`INVALID_MESSAGE`] notification.
pub fn sanitized(input: impl AsyncRead + Unpin + Send + 'static) -> impl AsyncRead + Unpin + Send + 'static {
    let (mut clean, out) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        loop {
            let body = match read_frame(&mut reader).await {
                Frame::End => break,
                Frame::Body(body) if is_message(&body) => body,
                Frame::Body(body) => invalid(&format!(
                    "not a JSON-RPC message: {}",
                    String::from_utf8_lossy(&body[..body.len().min(80)]).replace(['\r', '\n'], " ")
                )),
                Frame::Bad(why) => invalid(&why),
            };
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            if clean.write_all(header.as_bytes()).await.is_err() || clean.write_all(&body).await.is_err() {
                break;
            }
        }
        let _ = clean.shutdown().await;
    });
    out
}

/// A JSON-RPC request, notification or response, as tower-lsp will decode it.
fn is_message(body: &[u8]) -> bool {
    serde_json::from_slice::<tower_lsp::jsonrpc::Request>(body).is_ok()
        || serde_json::from_slice::<tower_lsp::jsonrpc::Response>(body).is_ok()
}

fn invalid(why: &str) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "method": INVALID_MESSAGE, "params": {"error": why}}).to_string().into_bytes()
}

enum Frame {
    Body(Vec<u8>),
    Bad(String),
    End,
}

async fn read_frame(reader: &mut (impl AsyncBufReadExt + Unpin)) -> Frame {
    let mut length = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) => return Frame::End,
            Ok(_) => {}
            Err(e) => return Frame::Bad(format!("unreadable header: {e}")),
        }
        let line = line.trim_end();
        if line.is_empty() {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    match length {
        Some(n) if n <= MAX_MESSAGE => {
            let mut body = vec![0; n];
            match reader.read_exact(&mut body).await {
                Ok(_) => Frame::Body(body),
                Err(_) => Frame::End,
            }
        }
        Some(n) => Frame::Bad(format!("a message of {n} bytes is over the limit of {MAX_MESSAGE}")),
        None => Frame::Bad("a message without a valid Content-Length header".into()),
    }
}
