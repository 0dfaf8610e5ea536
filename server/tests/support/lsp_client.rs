//! An LSP client for tests and benchmarks, speaking JSON-RPC with `Content-Length` framing
//! as an editor does: to the server in this process (over an in-memory pipe) or to the
//! real `self-harness lsp` binary (over its stdio). Requests from the server (progress
//! creation, refreshes) are answered with `null`; every message the server sends is kept,
//! in order, for the test to wait on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, Mutex};

type Writer = Arc<Mutex<Box<dyn AsyncWrite + Unpin + Send>>>;

pub struct LspClient {
    writer: Writer,
    next_id: i64,
    pending: Arc<std::sync::Mutex<HashMap<i64, oneshot::Sender<Value>>>>,
    waiting: HashMap<i64, oneshot::Receiver<Value>>,
    /// Notifications and requests from the server, in order.
    incoming: mpsc::UnboundedReceiver<Value>,
    /// What was received but not yet asked for.
    seen: Vec<Value>,
    /// The server process, when it is one.
    pub child: Option<tokio::process::Child>,
}

impl LspClient {
    /// The server of this library, in this process.
    pub async fn in_process() -> LspClient {
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_end);
        tokio::spawn(self_harness::lsp::serve(server_read, server_write));
        let (read, write) = tokio::io::split(client_end);
        LspClient::over(read, Box::new(write), None)
    }

    /// `self-harness lsp` as a child process, in `cwd`, with extra environment.
    pub async fn spawn(bin: &Path, cwd: &Path, env: &[(&str, &str)]) -> LspClient {
        let mut command = tokio::process::Command::new(bin);
        command
            .arg("lsp")
            .current_dir(cwd)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start self-harness lsp");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        LspClient::over(stdout, Box::new(stdin), Some(child))
    }

    fn over(
        read: impl AsyncRead + Unpin + Send + 'static,
        write: Box<dyn AsyncWrite + Unpin + Send>,
        child: Option<tokio::process::Child>,
    ) -> LspClient {
        let writer: Writer = Arc::new(Mutex::new(write));
        let pending: Arc<std::sync::Mutex<HashMap<i64, oneshot::Sender<Value>>>> = Arc::default();
        let (tx, incoming) = mpsc::unbounded_channel();
        let (reader_writer, reader_pending) = (writer.clone(), pending.clone());
        tokio::spawn(async move {
            let mut reader = BufReader::new(read);
            while let Some(message) = read_message(&mut reader).await {
                let is_request = message.get("method").is_some() && message.get("id").is_some();
                let is_response = message.get("method").is_none();
                if is_response {
                    let id = message["id"].as_i64().unwrap_or(-1);
                    if let Some(sender) = reader_pending.lock().unwrap().remove(&id) {
                        let _ = sender.send(message);
                    }
                    continue;
                }
                if is_request {
                    let reply = json!({"jsonrpc": "2.0", "id": message["id"], "result": null});
                    write_message(&reader_writer, &reply).await;
                }
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        LspClient { writer, next_id: 0, pending, waiting: HashMap::new(), incoming, seen: Vec::new(), child }
    }

    /// Sends a request and returns its id; [`LspClient::response`] waits for the answer.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, sender);
        self.waiting.insert(id, receiver);
        write_message(&self.writer, &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        id
    }

    /// The response to request `id`: `Ok(result)` or `Err(error object)`.
    pub async fn response(&mut self, id: i64) -> Result<Value, Value> {
        let receiver = self.waiting.remove(&id).expect("a request that was sent");
        let message = tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .expect("the server answers within 60 s")
            .expect("the server is still there");
        match message.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(message["result"].clone()),
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send_request(method, params).await;
        self.response(id).await
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        write_message(&self.writer, &json!({"jsonrpc": "2.0", "method": method, "params": params})).await;
    }

    /// Sends raw bytes as one message body (for garbage tests).
    pub async fn send_raw(&mut self, body: &str) {
        let mut writer = self.writer.lock().await;
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = writer.write_all(frame.as_bytes()).await;
        let _ = writer.flush().await;
    }

    /// `initialize` + `initialized`, with the capabilities an editor has.
    pub async fn initialize(&mut self, root: &Path, options: Value) -> Value {
        let uri = uri(root);
        let capabilities = json!({
            "window": {"workDoneProgress": true},
            "workspace": {"codeLens": {"refreshSupport": true}, "inlayHint": {"refreshSupport": true}},
        });
        let result = self
            .request(
                "initialize",
                json!({"processId": null, "rootUri": uri, "capabilities": capabilities,
                       "workspaceFolders": [{"uri": uri, "name": "project"}], "initializationOptions": options}),
            )
            .await
            .expect("initialize succeeds");
        self.notify("initialized", json!({})).await;
        result
    }

    /// Waits for a message from the server with this method for which `matches` holds
    /// (earlier ones that do not match stay available).
    pub async fn wait_for(&mut self, method: &str, timeout: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(|m| m["method"] == method && matches(&m["params"])) {
            return self.seen.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, self.incoming.recv())
                .await
                .unwrap_or_else(|_| panic!("no {method} matching within {timeout:?}; seen: {:#?}", self.seen))
                .expect("the server is still there");
            if message["method"] == method && matches(&message["params"]) {
                return message;
            }
            self.seen.push(message);
        }
    }

    /// Forgets what was received with this method, so that the next wait sees only new ones.
    pub fn forget(&mut self, method: &str) {
        self.received();
        self.seen.retain(|m| m["method"] != method);
    }

    /// The diagnostics published for `uri` once `matches` holds for them.
    pub async fn diagnostics(&mut self, uri: &str, matches: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let message = self
            .wait_for("textDocument/publishDiagnostics", Duration::from_secs(30), |p| {
                p["uri"] == uri && matches(p["diagnostics"].as_array().map_or(&[], Vec::as_slice))
            })
            .await;
        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// The diagnostics published for version `version` of `uri`: what an edit produced, never
    /// an earlier publish (a background refresh may publish a version's diagnostics twice).
    pub async fn diagnostics_at(&mut self, uri: &str, version: i32) -> Vec<Value> {
        let message = self
            .wait_for("textDocument/publishDiagnostics", Duration::from_secs(30), |p| {
                p["uri"] == uri && p["version"] == version
            })
            .await;
        self.seen.retain(|m| !(m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri));
        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Everything received so far and not yet waited for (drains the queue).
    pub fn received(&mut self) -> Vec<Value> {
        while let Ok(message) = self.incoming.try_recv() {
            self.seen.push(message);
        }
        self.seen.clone()
    }

    pub async fn open(&mut self, path: &Path, text: &str) -> String {
        let uri = uri(path);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": text}}),
        )
        .await;
        uri
    }

    pub async fn shutdown(&mut self) {
        let _ = self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
    }
}

/// A file URI for a path, as editors write it.
pub fn uri(path: &Path) -> String {
    tower_lsp::ls_types::Uri::from_file_path(path).expect("an absolute path").as_str().to_string()
}

async fn write_message(writer: &Writer, message: &Value) {
    let body = message.to_string();
    let mut writer = writer.lock().await;
    let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let _ = writer.write_all(frame.as_bytes()).await;
    let _ = writer.flush().await;
}

async fn read_message(reader: &mut (impl AsyncBufReadExt + Unpin)) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}
