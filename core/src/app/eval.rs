//! Evaluate a harness: every task `repeats` times through the shared episode runner, so the
//! command line and the editor measure alike — an episode the store already has (a loop's,
//! an earlier or interrupted evaluation's, same harness version, model, time cap and seed)
//! is reused rather than run again, and one the infrastructure failed is run again — and
//! what the episodes add up to is kept as an [`Evaluation`] (`runs/<run>/run.json`), which
//! the report reads.

use std::time::Instant;

use super::{Error, ErrorKind};
use crate::episodes::{Backend, Evaluation, Runner, TaskRow};
use crate::harness::Harness;
use crate::llm::{ChatRequest, Message};
use crate::sandbox::image::ImageSpec;
use crate::sandbox::offline;
use crate::splits::Split;
use crate::stats::wilson_95;
use crate::store::RunDir;
use crate::task::Task;

/// What to evaluate.
pub struct Plan<'a> {
    pub harness: &'a Harness,
    pub tasks: Vec<&'a Task>,
    /// The split the tasks are, when they are one (kept with the evaluation).
    pub split: Option<Split>,
    /// Episodes per task: repeat k uses seed `seed + k`, so two harnesses' evaluations with
    /// the same seed pair up task by task.
    pub repeats: u32,
    pub seed: u64,
}

impl Plan<'_> {
    /// The (task, seed) episodes, task by task, repeats in order.
    fn keys(&self) -> Vec<(&Task, u64)> {
        let (seed, repeats) = (self.seed, self.repeats);
        self.tasks.iter().flat_map(|&task| (0..repeats).map(move |k| (task, seed + u64::from(k)))).collect()
    }
}

/// Runs (or reuses) every episode of `plan` with `runner` and keeps what they add up to.
/// The runner's `on_episode` hears of every episode, the reused ones first; `say` of what
/// happens before the first episode (the images being built).
///
/// Nothing is written before the model has answered a one-token request and every task's
/// image is built, so a model endpoint that is down or a task that cannot be built here is
/// one clear error rather than a run of failed episodes.
pub async fn eval(runner: &Runner<'_>, plan: &Plan<'_>, say: &(dyn Fn(&str) + Sync)) -> Result<Evaluation, Error> {
    let started = Instant::now();
    preflight(runner).await?;
    build_images(runner, &plan.tasks, say).await?;
    let environment = |what: &str, e: std::io::Error| Error::new(ErrorKind::Environment, format!("{what}: {e}"));
    let keys = plan.keys();
    let reused = runner.finished(plan.harness, &keys);
    for episode in &reused {
        (runner.on_episode)(episode);
    }
    let episodes = runner.run_all(plan.harness, &keys).await.map_err(|e| environment("an episode could not run", e))?;

    let mut rows: Vec<TaskRow> = plan
        .tasks
        .iter()
        .map(|t| TaskRow {
            task: t.name.clone(),
            passed: 0,
            counted: 0,
            errors: 0,
            tokens: 0,
            seconds: 0.0,
            traces: Vec::new(),
        })
        .collect();
    // Made only now, so that an evaluation stopped midway leaves its episodes (which the
    // next reuses) and no run without a result.
    let run =
        runner.store.new_run(plan.harness.version()).map_err(|e| environment("cannot create the run folder", e))?;
    let mut cost = 0.0;
    for (i, episode) in episodes.iter().enumerate() {
        let (row, o) = (&mut rows[i / plan.repeats.max(1) as usize], &episode.outcome);
        row.tokens += o.tokens_in + o.tokens_out;
        row.seconds += o.duration_ms as f64 / 1000.0;
        row.traces.push(episode.trace.strip_prefix(runner.store.root()).unwrap_or(&episode.trace).to_path_buf());
        cost += o.cost_usd;
        if episode.counts() {
            row.counted += 1;
            row.passed += u32::from(o.passed);
        } else {
            row.errors += 1;
        }
    }
    let passed: u64 = rows.iter().map(|r| u64::from(r.passed)).sum();
    let counted: u64 = rows.iter().map(|r| u64::from(r.counted)).sum();
    let evaluation = Evaluation {
        run: run.name.clone(),
        harness: plan.harness.name().to_string(),
        harness_version: plan.harness.version().to_string(),
        model: runner.model.clone(),
        temperature: plan.harness.policy().temperature,
        split: plan.split.map(|s| format!("{s:?}").to_lowercase()),
        seed: plan.seed,
        repeats: plan.repeats,
        pass_rate: if counted == 0 { 0.0 } else { passed as f64 / counted as f64 },
        ci95: wilson_95(passed, counted),
        passed,
        counted,
        infrastructure_errors: rows.iter().map(|r| u64::from(r.errors)).sum(),
        tokens: rows.iter().map(|r| r.tokens).sum(),
        cost_usd: cost,
        wall_seconds: started.elapsed().as_secs_f64(),
        reused: reused.len() as u64,
        tasks: rows,
    };
    let json = serde_json::to_string_pretty(&evaluation).unwrap_or_default();
    crate::util::write_atomic(&run.path.join(RunDir::SUMMARY), json.as_bytes())
        .map_err(|e| environment("cannot keep the evaluation", e))?;
    Ok(evaluation)
}

/// One tiny request, so that a model endpoint that is down is one clear message before
/// any container starts.
async fn preflight(runner: &Runner<'_>) -> Result<(), Error> {
    let request = ChatRequest::new(vec![Message::user("Reply with OK.")]).max_tokens(1);
    runner.client.chat(&request).await.map(|_| ()).map_err(|e| Error::new(ErrorKind::Environment, e.to_string()))
}

/// Builds (or finds built) every task's image here, so a task that cannot be built is one
/// clear message before any episode starts. (Harbor builds its own.)
async fn build_images(runner: &Runner<'_>, tasks: &[&Task], say: &(dyn Fn(&str) + Sync)) -> Result<(), Error> {
    let Backend::Local(engine) = runner.backend else { return Ok(()) };
    for task in tasks {
        say(&format!("building the image of {}", task.name));
        engine.ensure_image(&ImageSpec::for_task(task), &mut |_| {}).await.map_err(|e| {
            let error = e.to_string();
            let hint = if offline::unavailable(&error).is_some() {
                "\n  It cannot be built from this machine: leave it out of the tasks evaluated."
            } else {
                ""
            };
            Error::new(ErrorKind::Failed, format!("task {}: {}{hint}", task.name, offline::explain(&error)))
        })?;
    }
    Ok(())
}
