//! `self-harness bench …`: numbers measured side by side in one run.

use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;

use super::{engine, exit, ui, CliError, CliResult};
use crate::sandbox::base::TRIXIE;
use crate::sandbox::reaper::{MANAGED_LABEL, OWNER_LABEL};
use crate::sandbox::{reaper, ExecOptions, SandboxSpec};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Round trip of `exec true` on one running container through the runner vs the docker
    /// CLI, interleaved; and container create+start+remove per episode.
    Exec {
        /// Exec round trips measured per side.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Container life cycles measured per side.
        #[arg(long, default_value_t = 10)]
        lifecycles: usize,
        /// Image to run (default: the trixie base image).
        #[arg(long, default_value = TRIXIE.tag)]
        image: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The local model's server in several configurations (speculation, batch sizes, cache
    /// reuse, threads, slots), one after another on the same machine: a recorded episode
    /// replayed (prompt and generation tokens/s, turn latency p50/p99, drafts accepted,
    /// replies identical to the first configuration's) and, with --tasks, episodes per hour
    /// on a fixed sample of tasks. Run nothing else meanwhile: it measures the CPU.
    Model(super::bench_model::ModelBenchArgs),
}

#[derive(Serialize)]
struct Row {
    operation: String,
    n: usize,
    p50_ms: f64,
    mean_ms: f64,
    p99_ms: f64,
    min_ms: f64,
}

impl Row {
    fn new(operation: &str, mut samples: Vec<Duration>) -> Row {
        samples.sort();
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
        Row {
            operation: operation.into(),
            n: samples.len(),
            p50_ms: ms(at(0.5)),
            mean_ms: ms(mean),
            p99_ms: ms(at(0.99)),
            min_ms: ms(samples[0]),
        }
    }
}

pub async fn run(command: BenchCommand) -> CliResult {
    match command {
        BenchCommand::Exec { iterations, lifecycles, image, json } => exec(iterations, lifecycles, image, json).await,
        BenchCommand::Model(args) => super::bench_model::run(args).await,
    }
}

async fn exec(iterations: usize, lifecycles: usize, image: String, json: bool) -> CliResult {
    if iterations == 0 || lifecycles == 0 {
        return Err(CliError::new(exit::BAD_INPUT, "--iterations and --lifecycles must be at least 1"));
    }
    let engine = engine().await?;
    let spec = SandboxSpec {
        image: image.clone(),
        name_hint: "bench".into(),
        cpus: None,
        memory_bytes: None,
        storage_bytes: None,
        pids_limit: 4096,
        allow_internet: false,
        lifetime: Duration::from_secs(3600),
    };
    let sandbox = engine.start_sandbox(&spec).await?;
    let options = ExecOptions::with_timeout(Duration::from_secs(30));
    let bar = ui::progress((2 * iterations + 2 * lifecycles) as u64, "bench exec");

    let docker_exec = || {
        let mut command = tokio::process::Command::new("docker");
        command
            .args(["exec", sandbox.id(), "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    // Warm both paths up (connection pool, page cache) before measuring.
    for _ in 0..5 {
        sandbox.exec("true", &options).await?;
        docker_exec().status().await.map_err(no_docker_cli)?;
    }
    let (mut runner, mut cli) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let started = Instant::now();
        let out = sandbox.exec("true", &options).await?;
        runner.push(started.elapsed());
        if !out.success() {
            return Err(CliError::new(exit::FAILED, format!("`true` failed in the container: {}", out.output)));
        }
        let started = Instant::now();
        let status = docker_exec().status().await.map_err(no_docker_cli)?;
        cli.push(started.elapsed());
        if !status.success() {
            return Err(CliError::new(exit::FAILED, format!("`docker exec … true` failed: {status}")));
        }
        bar.inc(2);
    }
    sandbox.remove().await;

    let (runner_life, cli_life) = lifecycle_times(engine, &spec, &image, lifecycles, &bar).await?;
    bar.finish_and_clear();

    let rows = vec![
        Row::new("exec `true`: runner (bollard)", runner),
        Row::new("exec `true`: docker exec CLI", cli),
        Row::new("create+start+remove: runner", runner_life),
        Row::new("create+start+remove: docker CLI", cli_life),
    ];
    let speedup = rows[1].p50_ms / rows[0].p50_ms;
    if json {
        let value =
            serde_json::json!({ "rows": rows, "exec_speedup_p50": speedup, "engine_api": engine.api_version() });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        let mut table = ui::table(&["operation", "n", "p50 ms", "mean ms", "p99 ms", "min ms"]);
        for r in &rows {
            table.add_row(vec![
                r.operation.clone(),
                r.n.to_string(),
                format!("{:.2}", r.p50_ms),
                format!("{:.2}", r.mean_ms),
                format!("{:.2}", r.p99_ms),
                format!("{:.2}", r.min_ms),
            ]);
        }
        println!("{table}");
        println!(
            "runner exec round trip is {speedup:.1}x faster than `docker exec` (p50); engine API {}",
            engine.api_version()
        );
    }
    Ok(exit::OK)
}

/// `n` containers started and removed by the runner, and as many by the docker CLI
/// (`docker run -d` then `docker rm -f`): how long each took.
async fn lifecycle_times(
    engine: &crate::sandbox::Engine,
    spec: &SandboxSpec,
    image: &str,
    n: usize,
    bar: &indicatif::ProgressBar,
) -> Result<(Vec<Duration>, Vec<Duration>), CliError> {
    let (mut runner_life, mut cli_life) = (Vec::new(), Vec::new());
    let label = |key: &str, value: &str| format!("{key}={value}");
    for _ in 0..n {
        let started = Instant::now();
        engine.start_sandbox(spec).await?.remove().await;
        runner_life.push(started.elapsed());

        let started = Instant::now();
        let output = tokio::process::Command::new("docker")
            .args([
                "run",
                "-d",
                "--init",
                "--network",
                "none",
                "--label",
                &label(MANAGED_LABEL, "true"),
                "--label",
                &label(OWNER_LABEL, reaper::owner()),
                image,
                "sleep",
                "3600",
            ])
            .output()
            .await
            .map_err(no_docker_cli)?;
        let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let removed = tokio::process::Command::new("docker")
            .args(["rm", "-f", &id])
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .map_err(no_docker_cli)?;
        cli_life.push(started.elapsed());
        if !output.status.success() || !removed.success() {
            return Err(CliError::new(
                exit::FAILED,
                format!("docker run/rm failed: {}", String::from_utf8_lossy(&output.stderr)),
            ));
        }
        bar.inc(2);
    }
    Ok((runner_life, cli_life))
}

fn no_docker_cli(e: std::io::Error) -> CliError {
    CliError::new(
        exit::ENVIRONMENT,
        format!("cannot run the docker CLI for comparison: {e} (install docker.io or docker-ce-cli)"),
    )
}
