//! `self-harness bench model`: server configurations side by side in one run, each served
//! in turn on its own port and measured by [`crate::throughput`] — a recorded episode
//! replayed (prompt and generation speed, turn latency, drafts accepted, and whether the
//! replies are the first configuration's token for token) and, given `--tasks`, real
//! episodes of a fixed sample (episodes per hour).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::model::{SizeArg, StopOnDrop};
use super::{engine, exit, load_harness, load_suite, ui, CliError, CliResult};
use crate::config::ModelConfig;
use crate::episodes::{Backend, Runner};
use crate::llm::Client;
use crate::model::{self, ServeOptions, Serving};
use crate::store::Store;
use crate::task::{Suite, Task};
use crate::throughput::{self, EpisodeFigures, Recording, ServerFigures, TurnFigures};

/// The recorded episode replayed when `--replay` is not given: the 1.5B with `minimal`
/// (temperature 0) on the starter task `git-bisect-revert`, its first six commands (a
/// search of the history, a clone and test run, then the search again: the model loops,
/// as it does on many tasks), with the task's instruction.
const RECORDED_TRACE: &str = include_str!("../../benches/replay/git-bisect-revert.jsonl");
const RECORDED_INSTRUCTION: &str = include_str!("../../../tasks/git-bisect-revert/instruction.md");

#[derive(Args)]
pub struct ModelBenchArgs {
    /// Which model to serve.
    #[arg(long, value_enum, default_value = "1.5b")]
    size: SizeArg,
    /// A server configuration to measure, as `model serve --serving` takes it (e.g.
    /// `llama.cpp`, `ngram-simple:8`, `ngram-mod:16`, `draft:4`, `batch:512+ubatch:128`,
    /// `slots:2`); repeat for more. The first is the one the others are compared with.
    /// [default: llama.cpp's defaults, and `model serve`'s when they differ]
    #[arg(long = "config", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Serving>()))]
    configs: Vec<Serving>,
    /// The harness the episodes use (its temperature too: `minimal`'s 0 makes every
    /// configuration's replies comparable).
    #[arg(long, default_value = "harnesses/minimal")]
    harness: PathBuf,
    /// A trace (trace.jsonl) to replay instead of the built-in one; its task's folder must
    /// be in `--tasks`, for the instruction.
    #[arg(long, requires = "tasks")]
    replay: Option<PathBuf>,
    /// Replays counted per configuration, after one that warms the server's cache up as
    /// the episodes before a real one would.
    #[arg(long, default_value_t = 2)]
    repeats: usize,
    /// Also run real episodes of a sample of this suite, for episodes per hour.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Tasks in that sample, spread evenly over the suite in name order (0: none).
    #[arg(long, default_value_t = 6)]
    sample: usize,
    /// Episodes at a time.
    #[arg(long, default_value_t = 2)]
    parallel: usize,
    /// Cap on each episode's agent time, in seconds.
    #[arg(long, default_value_t = 120)]
    episode_timeout: u64,
    #[command(flatten)]
    cache: super::model::CacheArg,
    /// First port to serve on (one per configuration, upwards).
    #[arg(long, default_value_t = 8095, value_parser = model::parse_port)]
    port: u16,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One configuration's figures.
#[derive(Serialize)]
struct Measured {
    serving: String,
    replay: ServerFigures,
    /// The replies differ from the first configuration's (at temperature 0 they must not).
    replies_differ: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    episodes: Option<EpisodeFigures>,
}

pub async fn run(args: ModelBenchArgs) -> CliResult {
    if args.repeats == 0 || args.parallel == 0 {
        return Err(CliError::new(exit::BAD_INPUT, "--repeats and --parallel must be at least 1"));
    }
    let harness = load_harness(&args.harness)?;
    let suite = args.tasks.as_deref().map(load_suite).transpose()?;
    let recording = recording(args.replay.as_deref(), suite.as_ref())?;
    let sample = suite.as_ref().map_or_else(Vec::new, |suite| spread(&suite.tasks, args.sample));
    let backend = if sample.is_empty() { None } else { Some(Backend::Local(engine().await?.clone())) };
    let configs = if args.configs.is_empty() {
        let mut configs = vec![Serving::LLAMA_CPP];
        if Serving::default() != Serving::LLAMA_CPP {
            configs.push(Serving::default());
        }
        configs
    } else {
        args.configs.clone()
    };
    let size = args.size.into();
    let scratch = tempfile::tempdir().map_err(|e| CliError::io("a temporary folder", e))?;

    let mut measured: Vec<Measured> = Vec::new();
    let mut first_replies: Option<Vec<String>> = None;
    for (i, serving) in configs.iter().enumerate() {
        let options = ServeOptions {
            size,
            port: args.port.saturating_add(i as u16),
            serving: *serving,
            cache: args.cache.dir(),
            ..ServeOptions::default()
        };
        ui::info(&format!("[{}/{}] serving the {size} with {serving} on port {}", i + 1, configs.len(), options.port));
        let files = model::ensure_installed(&options, &|_| {}).await.map_err(super::model::model_error)?;
        let server = model::start(&files, &options).await.map_err(super::model::model_error)?;
        if server.reused {
            return Err(CliError::new(
                exit::ENVIRONMENT,
                format!("port {} already serves this model; stop it or choose another --port", options.port),
            ));
        }
        let guard = StopOnDrop(Some(server));
        let base_url = guard.0.as_ref().map(|s| s.base_url.clone()).unwrap_or_default();
        let client = Client::new(ModelConfig {
            base_url,
            model: files.model_name.clone(),
            timeout: Duration::from_secs(600),
            ..ModelConfig::default()
        })
        .map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;

        let dir = scratch.path().join(format!("replay-{i}"));
        let (turns, replies) =
            replay_counted(&recording, &harness, &client, &files.model_name, args.repeats, &dir).await?;
        let replies_differ = first_replies.get_or_insert_with(|| replies.clone()) != &replies;

        let episodes = match &backend {
            None => None,
            Some(backend) => {
                let dir = scratch.path().join(format!("episodes-{i}"));
                Some(time_episodes(&args, backend, &client, &files.model_name, &harness, &sample, &dir).await?)
            }
        };
        drop(guard);
        measured.push(Measured {
            serving: serving.to_string(),
            replay: ServerFigures::of(&turns),
            replies_differ,
            episodes,
        });
    }

    if args.json {
        let value = serde_json::json!({
            "model": size.label(),
            "replayed": { "task": recording.task, "commands": recording.commands(), "repeats": args.repeats },
            "sample": sample.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            "configurations": measured,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return Ok(exit::OK);
    }
    print_table(&measured, &recording, args.repeats, &sample);
    Ok(exit::OK)
}

/// Replays `recording` `repeats` times after one that warms the server's cache up (traces
/// under `dir`): the counted turns, and the last replay's replies.
async fn replay_counted(
    recording: &Recording,
    harness: &crate::harness::Harness,
    client: &Client,
    model: &str,
    repeats: usize,
    dir: &std::path::Path,
) -> Result<(Vec<TurnFigures>, Vec<String>), CliError> {
    let bar = ui::progress((repeats + 1) as u64, "replay");
    let (mut turns, mut replies) = (Vec::new(), Vec::new());
    for repeat in 0..=repeats {
        let dir = dir.join(repeat.to_string());
        let replayed = throughput::replay(recording, harness, client, model, &dir)
            .await
            .map_err(|e| CliError::io(dir.display(), e))?;
        if repeat > 0 {
            turns.extend(replayed.turns);
        }
        replies = replayed.replies;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((turns, replies))
}

/// Real episodes of `sample`, timed, in a fresh store under `dir`.
async fn time_episodes(
    args: &ModelBenchArgs,
    backend: &Backend,
    client: &Client,
    model: &str,
    harness: &crate::harness::Harness,
    sample: &[Task],
    dir: &std::path::Path,
) -> Result<EpisodeFigures, CliError> {
    let bar = ui::progress(sample.len() as u64, "episodes");
    let on_episode = |_: &crate::episodes::Episode| bar.inc(1);
    let runner = Runner {
        backend,
        client,
        model: model.to_string(),
        store: Store::at(dir),
        parallel: args.parallel,
        time_limit: Some(Duration::from_secs(args.episode_timeout)),
        on_episode: &on_episode,
    };
    let figures =
        throughput::episodes_per_hour(&runner, harness, sample).await.map_err(|e| CliError::io(dir.display(), e))?;
    bar.finish_and_clear();
    Ok(figures)
}

/// The episode to replay: the built-in one, or the trace at `replay` with its task's
/// instruction from `suite`.
fn recording(replay: Option<&std::path::Path>, suite: Option<&Suite>) -> Result<Recording, CliError> {
    let bad = |message: String| CliError::new(exit::BAD_INPUT, message);
    let Some(path) = replay else {
        let scratch = tempfile::tempdir().map_err(|e| CliError::io("a temporary folder", e))?;
        let path = scratch.path().join("trace.jsonl");
        std::fs::write(&path, RECORDED_TRACE).map_err(|e| CliError::io(path.display(), e))?;
        let trace = crate::trace::read(&path).map_err(|e| bad(e.to_string()))?;
        return Recording::of(&trace, RECORDED_INSTRUCTION).map_err(bad);
    };
    let trace = crate::trace::read(path).map_err(|e| bad(e.to_string()))?;
    let task = suite
        .and_then(|suite| suite.tasks.iter().find(|t| t.name == trace.header.task))
        .ok_or_else(|| bad(format!("{}: its task {} is not in --tasks", path.display(), trace.header.task)))?;
    Recording::of(&trace, &task.instruction).map_err(bad)
}

/// `n` of `tasks` spread evenly over them in name order: the same sample every run.
fn spread(tasks: &[Task], n: usize) -> Vec<Task> {
    let mut tasks = tasks.to_vec();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    let n = n.min(tasks.len());
    (0..n).map(|i| tasks[i * tasks.len() / n].clone()).collect()
}

fn print_table(measured: &[Measured], recording: &Recording, repeats: usize, sample: &[Task]) {
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", v * 100.0));
    let mut header =
        vec!["serving", "prompt tok/s", "cached", "gen tok/s", "turn p50 s", "turn p99 s", "drafts ok", "same replies"];
    if !sample.is_empty() {
        header.extend(["episodes/h", "vs first", "passed", "model share"]);
    }
    let mut table = ui::table(&header);
    let first = measured.first().and_then(|m| m.episodes.as_ref()).map(|e| e.episodes_per_hour);
    for m in measured {
        let r = &m.replay;
        let mut row = vec![
            m.serving.clone(),
            opt(r.prompt_tokens_per_s, 1),
            pct(r.prompt_cached),
            opt(r.generated_tokens_per_s, 1),
            format!("{:.2}", r.turn_p50_ms / 1000.0),
            format!("{:.2}", r.turn_p99_ms / 1000.0),
            pct(r.drafts_accepted),
            if m.replies_differ { "NO".into() } else { "yes".into() },
        ];
        if let Some(e) = &m.episodes {
            row.extend([
                format!("{:.0}", e.episodes_per_hour),
                first.map_or("-".into(), |f| format!("{:.2}x", e.episodes_per_hour / f)),
                format!("{}/{}", e.passed, e.episodes - e.errors),
                format!("{:.0}%", e.model_share * 100.0),
            ]);
        }
        table.add_row(row);
    }
    println!("{table}");
    println!(
        "replay: {} ({} commands) x {repeats} after one warm-up; same replies: token for token the first row's",
        recording.task,
        recording.commands()
    );
    if !sample.is_empty() {
        let names: Vec<&str> = sample.iter().map(|t| t.name.as_str()).collect();
        println!("episodes: {} task(s), seed 0, each configuration in turn: {}", names.len(), names.join(", "));
    }
}
