//! `self-harness model …`: a real local model in one command. Installs and verifies on
//! first use (progress on a terminal, one line per step elsewhere), starts llama.cpp's
//! OpenAI-compatible server on the loopback interface, and finds, reports and stops the
//! servers it started.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::{exit, ui, CliError, CliResult};
use crate::model::{self, ModelError, ModelSize, Progress, ServeOptions, ServerState};

const SERVE_HELP: &str = "\
Examples:
  self-harness model serve                       # 0.5B on http://127.0.0.1:8080/v1, until Ctrl-C
  self-harness model serve --detach --port 8081  # in the background; `model stop` ends it
  self-harness model serve --size 1.5b --json

The first run downloads about 0.5 GB (1.1 GB for 1.5b) from PyPI into the cache and checks
its sha256; later runs reuse it. Point an OpenAI client at the printed OPENAI_BASE_URL
(any API key). Use `response_format` with a JSON schema for structured output: these
small models' native tool calling does not work.";

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Install (once) and start a local OpenAI-compatible model server (Qwen2.5-Coder via llama.cpp).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Stop model servers started by `model serve` (all of them, or the one on --port).
    Stop {
        /// Only the server on this port.
        #[arg(long, value_parser = model::parse_port)]
        port: Option<u16>,
        #[command(flatten)]
        cache: CacheArg,
    },
    /// Show which model servers run, where, and with which model.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cache: CacheArg,
    },
}

#[derive(Args)]
pub struct CacheArg {
    /// Cache folder for the venv, the weights, pid files and logs
    /// [default: $XDG_CACHE_HOME/self-harness/model or ~/.cache/self-harness/model].
    #[arg(long, env = "SELF_HARNESS_MODEL_CACHE")]
    cache: Option<PathBuf>,
}

impl CacheArg {
    pub(super) fn dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(model::default_cache_dir)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SizeArg {
    /// Qwen2.5-Coder-0.5B-Instruct (491 MB).
    #[value(name = "0.5b")]
    Half,
    /// Qwen2.5-Coder-1.5B-Instruct (1.1 GB).
    #[value(name = "1.5b")]
    OneAndHalf,
}

impl From<SizeArg> for ModelSize {
    fn from(size: SizeArg) -> ModelSize {
        match size {
            SizeArg::Half => ModelSize::Half,
            SizeArg::OneAndHalf => ModelSize::OneAndHalf,
        }
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Which model.
    #[arg(long, value_enum, default_value = "0.5b")]
    size: SizeArg,
    /// Port to listen on.
    #[arg(long, default_value_t = 8080, value_parser = model::parse_port)]
    port: u16,
    /// Address to listen on. The server has no authentication: keep it on loopback.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[command(flatten)]
    cache: CacheArg,
    /// Context window in tokens.
    #[arg(long, default_value_t = model::DEFAULT_CTX_SIZE)]
    ctx_size: u32,
    /// CPU threads for inference [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// How the server computes, as `bench model` names configurations: parts joined by '+',
    /// e.g. `ngram-simple:8` (speculative drafts copied from the context, at most 8 tokens),
    /// `draft:4` (drafts from the 0.5B), `batch:N`, `ubatch:N`, `cache-reuse:N`,
    /// `threads-batch:N`, `slots:N`; `llama.cpp` for llama.cpp's own defaults, which
    /// measured fastest on a 2-core CPU (docs/serving.md) [default: llama.cpp].
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<model::Serving>()))]
    serving: Option<model::Serving>,
    /// Stay in the foreground until Ctrl-C, then stop the server (the default).
    #[arg(long, conflicts_with = "detach")]
    foreground: bool,
    /// Leave the server running in the background (pid file and log in the cache) and return.
    #[arg(long)]
    detach: bool,
    /// Seconds to wait for the server to answer once started.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ModelCommand) -> CliResult {
    match command {
        ModelCommand::Serve(args) => serve(args).await,
        ModelCommand::Stop { port, cache } => stop(port, cache.dir()).await,
        ModelCommand::Status { json, cache } => status(json, cache.dir()).await,
    }
}

pub(super) fn model_error(e: ModelError) -> CliError {
    let code = match e {
        ModelError::ExitedEarly { .. } | ModelError::NotReady { .. } => exit::FAILED,
        _ => exit::ENVIRONMENT,
    };
    CliError::new(code, e.to_string())
}

async fn serve(args: ServeArgs) -> CliResult {
    let size = ModelSize::from(args.size);
    let options = ServeOptions {
        size,
        host: args.host.clone(),
        port: args.port,
        cache: args.cache.dir(),
        ctx_size: args.ctx_size,
        threads: args.threads.unwrap_or_else(model::default_threads),
        serving: args.serving.unwrap_or_default(),
        ready_timeout: Duration::from_secs(args.timeout),
        ..ServeOptions::default()
    };
    if args.host.parse::<std::net::IpAddr>().is_ok_and(|ip| !ip.is_loopback()) {
        ui::warn(&format!(
            "listening on {}: anyone who reaches this machine can use the model (no authentication)",
            args.host
        ));
    }

    let bar = ui::progress(size.weights().bytes, &format!("model {size}"));
    let interactive = ui::interactive();
    let report = |p: Progress| match p {
        Progress::Step(line) => {
            if interactive {
                bar.set_message(line);
            } else {
                ui::info(&line);
            }
        }
        Progress::Bytes { done, total } => {
            bar.set_length(total);
            bar.set_position(done);
        }
        Progress::PartDone { index, count } => {
            if !interactive {
                ui::info(&format!("part {index}/{count} in place"));
            }
        }
    };
    // The bar counts bytes; show them as sizes.
    if interactive {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {elapsed_precise} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
    }
    let files = model::ensure_installed(&options, &report).await.map_err(model_error)?;
    bar.set_message(format!("starting the server on {}:{}", options.host, options.port));
    if !interactive {
        ui::info(&format!(
            "starting the server on {}:{} (log: {})",
            options.host,
            options.port,
            model::PidFile::log_path(&options.cache, options.port).display()
        ));
    }
    let server = model::start(&files, &options).await.map_err(model_error)?;
    bar.finish_and_clear();

    print_server(&server, &files, &args);
    if args.detach {
        if !args.json && !server.reused {
            ui::info(&format!("running in the background (pid {}); `self-harness model stop` ends it", server.pid));
        }
        return Ok(exit::OK);
    }
    if server.reused {
        // Someone else's foreground or detached server: not ours to stop.
        return Ok(exit::OK);
    }
    if !args.json {
        ui::info("serving until Ctrl-C");
    }
    let mut guard = StopOnDrop(Some(server));
    let status = match guard.0.as_mut() {
        Some(server) => server.wait().await,
        None => String::new(),
    };
    let tail = guard.0.as_ref().map(|s| s.log_tail(20)).unwrap_or_default();
    if let Some(server) = guard.0.take() {
        let _ = std::fs::remove_file(&server.pid_file);
    }
    Err(CliError::new(exit::FAILED, format!("the model server exited ({status}); last lines of its log:\n{tail}")))
}

/// Where the model server answers (JSON under `--json`): for the user, and for a script
/// that sets the OpenAI-compatible variables from it.
fn print_server(server: &model::RunningServer, files: &model::ModelFiles, args: &ServeArgs) {
    if args.json {
        let value = serde_json::json!({
            "base_url": server.base_url,
            "model": server.model_name,
            "pid": server.pid,
            "port": server.port,
            "log": server.log,
            "pid_file": server.pid_file,
            "gguf": files.gguf,
            "reused": server.reused,
            "detached": args.detach,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        if server.reused {
            ui::info(&format!(
                "already running (pid {}); `self-harness model stop --port {}` ends it",
                server.pid, server.port
            ));
        }
        println!("OPENAI_BASE_URL={}", server.base_url);
        println!("OPENAI_MODEL={}", server.model_name);
        ui::info(&format!("log: {}", server.log.display()));
    }
}

/// In the foreground, the server ends with this command, also on Ctrl-C (when the future
/// that owns this guard is dropped).
pub(super) struct StopOnDrop(pub(super) Option<model::RunningServer>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            // Synchronous: the runtime may be shutting down.
            model::stop_pid_blocking(server.pid, Duration::from_secs(5));
            let pid_file = server.pid_file.clone();
            let _ = std::fs::remove_file(pid_file);
        }
    }
}

async fn stop(port: Option<u16>, cache: PathBuf) -> CliResult {
    let servers = model::find_servers(&cache).await;
    let mut stopped = 0;
    let mut matched = 0;
    for entry in servers.iter().filter(|e| port.is_none_or(|p| p == e.record.port)) {
        matched += 1;
        if entry.state == ServerState::Running {
            model::stop_pid(entry.record.pid).await;
            ui::info(&format!(
                "stopped {} on port {} (pid {})",
                entry.record.model_name, entry.record.port, entry.record.pid
            ));
            stopped += 1;
        }
        if let Err(e) = std::fs::remove_file(&entry.pid_file) {
            ui::warn(&format!("could not remove {}: {e}", entry.pid_file.display()));
        }
    }
    if matched == 0 {
        match port {
            Some(p) => println!("no model server recorded on port {p} (in {})", cache.display()),
            None => println!("no model server running (in {})", cache.display()),
        }
    } else {
        println!("stopped {stopped} model server(s)");
    }
    Ok(exit::OK)
}

async fn status(json: bool, cache: PathBuf) -> CliResult {
    let servers = model::find_servers(&cache).await;
    let running = servers.iter().filter(|e| e.state == ServerState::Running).count();
    if json {
        let value = serde_json::json!({ "cache": cache, "running": running, "servers": servers });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else if servers.is_empty() {
        println!("no model server running (cache: {})", cache.display());
    } else {
        let mut table = ui::table(&["port", "state", "model", "base url", "pid", "log"]);
        for e in &servers {
            let state = match (e.state, e.answering) {
                (ServerState::Running, true) => ui::status_cell("running", true, false),
                (ServerState::Running, false) => ui::status_cell("starting", false, false),
                _ => ui::status_cell("gone (stale pid file)", false, true),
            };
            table.add_row(vec![
                e.record.port.to_string(),
                state,
                e.record.model_name.clone(),
                e.record.base_url.clone(),
                e.record.pid.to_string(),
                e.record.log.display().to_string(),
            ]);
        }
        println!("{table}");
    }
    // Exit status answers "is a model server running?" for scripts.
    Ok(if running > 0 { exit::OK } else { exit::FAILED })
}
