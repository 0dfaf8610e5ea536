//! The protocol layer: tower-lsp's `LanguageServer` over the state the other modules own.
//! Handlers change state synchronously under one lock and never hold it across an await;
//! long work goes to jobs. Messages are handled one at a time, so no handler waits for the
//! store: its files are read on blocking threads, outside the lock, and what was read is
//! put in the state when it is ready (the view by `refresh_store`, the side bar's pass rate
//! by `count_episodes`). Nothing a client sends is unwrapped: bad input is an error reply
//! or a message, never a panic.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{json, Value};
use tower_lsp::jsonrpc::{Error, Result};
use tower_lsp::ls_types::*;
use tower_lsp::{Client, LanguageServer};

use super::actions::{self, DocumentText, ProposedText};
use super::documents::Documents;
use super::harness_files::{self, Kind};
use super::jobs::{JobHandle, Jobs};
use super::settings::Settings;
use super::stages::{self, Project};
use super::store_view::{self, Reloads, StoreView};
use super::{marks, weaknesses};
use crate::app::validate::Target;
use crate::harness::MANIFEST_FILE;

/// The commands this server runs (docs/lsp.md). `selfHarness.previewProposal` is the
/// client's.
pub const COMMANDS: &[&str] = &[
    "selfHarness.eval",
    "selfHarness.mine",
    "selfHarness.propose",
    "selfHarness.validate",
    "selfHarness.autoApply.start",
    "selfHarness.autoApply.stop",
    "selfHarness.report",
    "selfHarness.cancel",
];

/// How often the store's files are looked at for changes made by other processes.
const STORE_POLL: Duration = Duration::from_millis(500);

struct State {
    project: PathBuf,
    settings: Settings,
    documents: Documents,
    view: StoreView,
    /// Modification times of the store files the view was loaded from.
    stamp: Vec<Option<SystemTime>>,
    /// Which loads of the view were asked for and which one it shows.
    reloads: Reloads,
    /// The side bar's pass rate, counted in the background.
    pass_rate: PassRate,
    /// Proposals being validated, by the job doing it.
    validating: Vec<(String, String)>,
    refresh: Refresh,
}

/// Passes and counted episodes of a run folder, as last counted, and the count under way:
/// counting reads every episode of a harness version, seconds with thousands of traces.
#[derive(Debug, Default)]
struct PassRate {
    /// The run folder last counted, and its count (none when it has no counted episode).
    counted: Option<(String, Option<(u32, u32)>)>,
    counting: bool,
    /// The run folder to count again once the count under way ends.
    next: Option<String>,
}

impl PassRate {
    /// The last count of `run`.
    fn of(&self, run: &str) -> Option<(u32, u32)> {
        self.counted.as_ref().filter(|(counted, _)| counted == run).and_then(|(_, count)| *count)
    }
}

/// Which refresh requests the client supports.
#[derive(Debug, Clone, Copy, Default)]
struct Refresh {
    code_lens: bool,
    inlay_hint: bool,
}

pub struct Server {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Held while the store view is loaded and shown: one load at a time.
    loading: Arc<tokio::sync::Mutex<()>>,
    /// Held from computing a document's diagnostics to sending them, so that a publish from
    /// the background (a store reload) is never sent after a newer one from an edit.
    publishing: Arc<tokio::sync::Mutex<()>>,
    jobs: Jobs,
}

impl Server {
    pub fn new(client: Client) -> Server {
        let project = std::env::current_dir().unwrap_or_default();
        let state = State {
            project,
            settings: Settings::default(),
            documents: Documents::default(),
            view: StoreView::default(),
            stamp: Vec::new(),
            reloads: Reloads::default(),
            pass_rate: PassRate::default(),
            validating: Vec::new(),
            refresh: Refresh::default(),
        };
        Server {
            jobs: Jobs::new(client.clone()),
            client,
            state: Arc::new(Mutex::new(state)),
            loading: Arc::default(),
            publishing: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn project(&self) -> Project {
        let state = self.state();
        Project { root: state.project.clone(), settings: state.settings.clone() }
    }

    /// Publishes the diagnostics of one open document.
    async fn publish(&self, uri: Uri) {
        let _in_order = self.publishing.lock().await;
        let computed = diagnostics_of(&self.state(), &uri);
        if let Some((diagnostics, version)) = computed {
            self.client.publish_diagnostics(uri, diagnostics, Some(version)).await;
        }
    }

    async fn publish_all(&self) {
        let uris: Vec<Uri> = self.state().documents.uris().cloned().collect();
        for uri in uris {
            self.publish(uri).await;
        }
    }

    /// Reloads the store view when its files changed (or `force`), and tells the client;
    /// returns once a load begun after the call is shown. The files are read on a blocking
    /// thread, without the state lock, so requests are answered meanwhile; calls made while
    /// a load runs share the next one.
    async fn refresh_store(&self, force: bool) {
        let ask = self.state().reloads.ask(force);
        let _one_at_a_time = self.loading.lock().await;
        let (store, allowed, shown, load) = {
            let state = self.state();
            if state.reloads.answered(ask) {
                return;
            }
            let store = crate::store::Store::at(&state.project);
            let allowed = [state.project.clone(), state.settings.harness_dir(&state.project)];
            (store, allowed, state.stamp.clone(), state.reloads.begin())
        };
        let read = tokio::task::spawn_blocking(move || {
            let stamp = store_stamp(&store);
            let changed = load.force || stamp != shown;
            (stamp, changed.then(|| StoreView::load(&store, &allowed)))
        });
        // A load that panicked leaves the view as it was, and its asks to the next load.
        let Ok((stamp, loaded)) = read.await else { return };
        let errors = {
            let mut state = self.state();
            let (true, Some((view, errors))) = (state.reloads.end(load), loaded) else { return };
            state.view = view;
            state.stamp = stamp;
            errors
        };
        for error in errors {
            self.client.show_message(MessageType::WARNING, format!("self-harness store: {error}")).await;
        }
        self.publish_all().await;
        // Asked of the client only when it said it can, and not awaited here: a handler
        // must not wait for the client.
        let (lenses, hints) = {
            let state = self.state();
            (state.refresh.code_lens, state.refresh.inlay_hint)
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            if lenses {
                let _ = client.code_lens_refresh().await;
            }
            if hints {
                let _ = client.inlay_hint_refresh().await;
            }
        });
        self.client.send_notification::<StateChanged>(()).await;
    }

    fn document_text(&self, path: &Path) -> Option<DocumentText> {
        let uri = Uri::from_file_path(path)?;
        let state = self.state();
        match state.documents.get(&uri) {
            Some(doc) => Some(DocumentText { uri, text: doc.text(), version: Some(doc.version) }),
            None => std::fs::read_to_string(path).ok().map(|text| DocumentText { uri, text, version: None }),
        }
    }

    fn marks_of(&self, uri: &Uri) -> Vec<marks::Mark> {
        let state = self.state();
        let (Some(path), Some(doc)) = (uri.to_file_path(), state.documents.get(uri)) else { return Vec::new() };
        match harness_of(&path) {
            Some((dir, file)) => marks::marks(&state.view, &dir, &file, &doc.text()),
            None => Vec::new(),
        }
    }

    /// Another handle on the same server, for work that outlives a request.
    fn handle(&self) -> Server {
        Server {
            client: self.client.clone(),
            state: self.state.clone(),
            loading: self.loading.clone(),
            publishing: self.publishing.clone(),
            jobs: self.jobs.clone(),
        }
    }

    /// The last count of `run`'s episodes (none before the first), and a new count started
    /// in the background, so that episodes played since show; if it differs,
    /// `StateChanged` has the side bar ask again.
    fn pass_rate(&self, run: String) -> Option<(u32, u32)> {
        let mut state = self.state();
        let last = state.pass_rate.of(&run);
        if state.pass_rate.counting {
            state.pass_rate.next = Some(run);
        } else {
            state.pass_rate.counting = true;
            let backend = self.handle();
            tokio::spawn(async move { backend.count_episodes(run).await });
        }
        last
    }

    /// Counts `run`'s episodes on a blocking thread, then each run folder asked for
    /// meanwhile: one count at a time, however often the side bar asks.
    async fn count_episodes(&self, mut run: String) {
        loop {
            let store = crate::store::Store::at(&self.state().project);
            let folder = run.clone();
            let count = tokio::task::spawn_blocking(move || store_view::pass_rate(&store, &folder));
            let count = count.await.unwrap_or(None);
            let (changed, next) = {
                let mut state = self.state();
                let counts = &mut state.pass_rate;
                let changed = counts.of(&run) != count;
                counts.counted = Some((run, count));
                let next = counts.next.take();
                counts.counting = next.is_some();
                (changed, next)
            };
            if changed {
                self.client.send_notification::<StateChanged>(()).await;
            }
            let Some(next) = next else { return };
            run = next;
        }
    }

    /// Starts `work` as a job; when it ends, the store is reloaded and shown before the job
    /// is reported ended, so a client that sees the end sees its results.
    fn spawn<F>(&self, kind: &str, title: &str, work: impl FnOnce(JobHandle) -> F) -> String
    where
        F: std::future::Future<Output = std::result::Result<String, String>> + Send + 'static,
    {
        let backend = self.handle();
        self.jobs.spawn(kind, title, move |job| {
            let work = work(job);
            async move {
                let outcome = work.await;
                backend.refresh_store(true).await;
                outcome
            }
        })
    }

    fn execute(&self, command: &str, argument: Value) -> Result<Value> {
        let project = self.project();
        let text = |key: &str| argument.get(key).and_then(Value::as_str).map(str::to_string);
        let id = match command {
            "selfHarness.eval" => {
                // The repeats the person asked for (VS Code's Evaluate prompts for them; `trials`
                // is their old name), else the repeats setting.
                let mut project = project;
                if let Some(repeats) = argument.get("repeats").or_else(|| argument.get("trials")) {
                    let repeats = repeats.as_u64().filter(|n| (1..=20).contains(n));
                    let repeats =
                        repeats.ok_or_else(|| Error::invalid_params("\"repeats\" is a whole number, 1 to 20"))?;
                    project.settings.repeats = Some(repeats as u32);
                }
                self.spawn("eval", "Evaluate the harness", |job| stages::eval(project, job))
            }
            "selfHarness.mine" => self.spawn("mine", "Mine weaknesses", |job| stages::mine(project, job)),
            "selfHarness.propose" => {
                let weakness = text("weakness").ok_or_else(|| Error::invalid_params("name a \"weakness\""))?;
                let title = format!("Propose fixes for {weakness}");
                self.spawn("propose", &title, |job| stages::propose(project, weakness, job))
            }
            "selfHarness.validate" => {
                let (what, title) = match text("proposal") {
                    Some(id) => (Target::Proposal(id.clone()), format!("Validate {id}")),
                    None => {
                        let (dir, overlays) = (project.harness_dir(), self.overlays(&project.harness_dir()));
                        (Target::Working { dir, overlays }, "Validate the edit".into())
                    }
                };
                let proposal = text("proposal");
                let state = self.state.clone();
                let id = self.spawn("validate", &title, move |job| {
                    let job_id = job.id().to_string();
                    async move {
                        let outcome = stages::validate(project, what, job).await;
                        lock(&state).validating.retain(|(j, _)| j != &job_id);
                        outcome
                    }
                });
                if let Some(proposal) = proposal {
                    self.state().validating.push((id.clone(), proposal));
                }
                id
            }
            "selfHarness.autoApply.start" => {
                if let Some(running) = self.jobs.running("loop") {
                    return Ok(json!({"job": running}));
                }
                let iterations = argument.get("iterations").and_then(Value::as_u64);
                let iterations =
                    iterations.map_or(crate::evolve::LoopOptions::DEFAULT_ITERATIONS, |n| n.min(100) as u32);
                let title = format!("Auto-apply: {iterations} iteration(s)");
                self.spawn("loop", &title, |job| stages::auto_apply(project, iterations, job))
            }
            "selfHarness.autoApply.stop" => {
                let stopped = self.jobs.running("loop").is_some_and(|id| self.jobs.cancel(&id));
                return Ok(json!({"stopped": stopped}));
            }
            "selfHarness.cancel" => {
                let job = text("job").ok_or_else(|| Error::invalid_params("name a \"job\""))?;
                return Ok(json!({"cancelled": self.jobs.cancel(&job)}));
            }
            "selfHarness.report" => return self.report(&project).map_err(Error::invalid_params),
            other => return Err(Error::invalid_params(format!("unknown command {other}"))),
        };
        Ok(json!({"job": id}))
    }

    /// The editor's unsaved texts of files in the harness folder.
    fn overlays(&self, harness_dir: &Path) -> Vec<(PathBuf, String)> {
        let state = self.state();
        let uris: Vec<Uri> = state.documents.uris().cloned().collect();
        uris.iter()
            .filter_map(|uri| {
                let path = uri.to_file_path()?.into_owned();
                let doc = state.documents.get(uri)?;
                path.starts_with(harness_dir).then(|| (path, doc.text()))
            })
            .collect()
    }

    fn report(&self, project: &Project) -> std::result::Result<Value, String> {
        let store = project.store();
        let read = crate::app::report::read(&store).map_err(|e| e.to_string())?;
        for warning in &read.warnings {
            tracing::warn!("{warning}");
        }
        let page = read.page();
        let path = store.report_page_path();
        std::fs::create_dir_all(store.root()).map_err(|e| e.to_string())?;
        crate::util::write_atomic(&path, page.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        let uri = Uri::from_file_path(&path).ok_or("the report has no file URI")?;
        let show = ShowDocumentParams { uri: uri.clone(), external: Some(true), take_focus: None, selection: None };
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.show_document(show).await;
        });
        let markdown = read.report.as_ref().map_or_else(
            || {
                "No loop or evaluation has run in this project yet: `selfHarness.eval` or the loop fills this report.\n"
                    .into()
            },
            crate::report::Report::markdown,
        );
        Ok(
            json!({"path": path, "uri": uri.as_str(), "json": read.report, "markdown": markdown, "warnings": read.warnings}),
        )
    }

    /// `selfHarness/proposedText`.
    pub async fn proposed_text(&self, params: ProposalParams) -> Result<ProposedText> {
        let view = self.state().view.clone();
        actions::proposed_text(&view, &params.proposal, &|p| self.document_text(p)).map_err(Error::invalid_params)
    }

    /// `selfHarness/state`. Its pass rate is the last one counted (none before the first
    /// count ends): counting reads every episode of the version, and is not waited for.
    pub async fn side_bar_state(&self) -> Result<Value> {
        let (project, view, validating) = {
            let state = self.state();
            let project = Project { root: state.project.clone(), settings: state.settings.clone() };
            (project, state.view.clone(), state.validating.clone())
        };
        let harness_dir = project.harness_dir();
        let read = tokio::task::spawn_blocking(move || {
            let harness = crate::harness::Harness::load(project.harness_dir()).ok();
            let version = harness.as_ref().map(|h| h.version().to_string());
            // Of the episodes played by the model the settings name, under their time cap.
            let model = project.settings.model_config(&project.root).map(|c| c.model).unwrap_or_default();
            let cap = project.settings.episode_timeout_secs.map(std::time::Duration::from_secs);
            let run = version.as_deref().map(|v| crate::episodes::run_name(v, &model, cap));
            let ledger = crate::evolve::ledger::read(&project.store().ledger_path());
            (version, run, ledger.map(|l| l.entries).unwrap_or_default())
        });
        let (version, run, ledger) = read.await.map_err(|_| Error::internal_error())?;
        let pass_rate = run.and_then(|run| self.pass_rate(run));
        let proposals: Vec<Value> = view
            .proposals
            .iter()
            .map(|p| {
                let state = if validating.iter().any(|(_, id)| id == &p.id) {
                    "validating"
                } else {
                    match view.decision_of(&p.id) {
                        Some(d) if d.record.decision.accepted => "accepted",
                        Some(_) => "rejected",
                        None => "proposed",
                    }
                };
                json!({"id": p.id, "weakness": p.weakness, "file": p.parent_dir.join(&p.edit.file),
                       "rationale": p.edit.rationale, "diff": p.diff, "state": state})
            })
            .collect();
        let runs: Vec<Value> = ledger
            .iter()
            .filter_map(|e| match e {
                crate::evolve::ledger::Entry::Evaluation { run, split, score, harness_version, .. } => Some(json!({
                    "id": run, "label": format!("{harness_version} on {split:?}"),
                    "passed": score.passed, "total": score.counted})),
                _ => None,
            })
            .collect();
        Ok(json!({
            "harness": {"dir": harness_dir, "version": version,
                        "passRate": pass_rate.map(|(p, n)| f64::from(p) / f64::from(n.max(1)))},
            "weaknesses": view.weaknesses,
            "proposals": proposals,
            "jobs": self.jobs.list(),
            "ledger": ledger,
            "runs": runs,
        }))
    }

    /// A message that could not be read (see `transport`): said to the client, then ignored.
    pub async fn invalid_message(&self, params: Value) {
        let why = params["error"].as_str().unwrap_or("unknown");
        tracing::warn!("ignored a message that could not be read: {why}");
        self.client.log_message(MessageType::ERROR, format!("self-harness lsp ignored a message: {why}")).await;
    }

    /// `window/workDoneProgress/cancel`: the progress's cancel button.
    pub async fn progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        self.jobs.cancel_token(&params.token);
    }
}

/// Params of `selfHarness/proposedText`.
#[derive(Debug, Deserialize)]
pub struct ProposalParams {
    pub proposal: String,
}

/// `selfHarness/stateChanged`: what a side bar shows has changed.
pub enum StateChanged {}

impl notification::Notification for StateChanged {
    type Params = ();
    const METHOD: &'static str = "selfHarness/stateChanged";
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic elsewhere must not take the editor's documents with it.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn store_stamp(store: &crate::store::Store) -> Vec<Option<SystemTime>> {
    [store.weaknesses_path(), store.proposals_path(), store.validations_path(), store.ledger_path()]
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// The harness folder a file belongs to (canonical) and its path relative to it.
fn harness_of(path: &Path) -> Option<(PathBuf, String)> {
    let dir = match harness_files::kind_of(path)? {
        Kind::Manifest => path.parent()?.to_path_buf(),
        Kind::Template { harness, .. } | Kind::HarnessFile { harness } => harness,
        Kind::ProjectConfig => return None,
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let file = canonical.strip_prefix(&dir).ok()?.to_string_lossy().replace('\\', "/");
    Some((dir, file))
}

/// Everything published for one open document: its problems, its weaknesses (for a
/// `harness.toml`) and its rejected edits.
fn diagnostics_of(state: &State, uri: &Uri) -> Option<(Vec<Diagnostic>, i32)> {
    let doc = state.documents.get(uri)?;
    let path = uri.to_file_path()?.into_owned();
    let kind = harness_files::kind_of(&path)?;
    let text = doc.text();
    let mut diagnostics = harness_files::problems(&kind, &path, &text);
    if let Some((dir, file)) = harness_of(&path) {
        if file == MANIFEST_FILE {
            let report = Uri::from_file_path(crate::store::Store::at(&state.project).report_page_path());
            diagnostics.extend(weaknesses::diagnostics(&state.view, &dir, &text, report.as_ref()));
        }
        let found = marks::marks(&state.view, &dir, &file, &text);
        diagnostics.extend(marks::rejected_diagnostics(&found, &file, &text));
    }
    Some((diagnostics, doc.version))
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|folders| folders.first())
            .and_then(|folder| folder.uri.to_file_path().map(|p| p.into_owned()));
        #[allow(deprecated)]
        let root = root.or_else(|| params.root_uri.as_ref().and_then(|u| u.to_file_path().map(|p| p.into_owned())));
        let settings = params.initialization_options.as_ref().map(Settings::from_value).transpose();
        let progress = params.capabilities.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false);
        let workspace = params.capabilities.workspace.as_ref();
        let refresh = Refresh {
            code_lens: workspace.and_then(|w| w.code_lens.as_ref()).and_then(|c| c.refresh_support).unwrap_or(false),
            inlay_hint: workspace.and_then(|w| w.inlay_hint.as_ref()).and_then(|c| c.refresh_support).unwrap_or(false),
        };
        self.jobs.set_progress_supported(progress);
        {
            let mut state = self.state();
            state.refresh = refresh;
            if let Some(root) = root {
                state.project = root;
            }
            match settings {
                Ok(settings) => state.settings = settings.unwrap_or_default(),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "self-harness".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..TextDocumentSyncOptions::default()
                })),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec!["=".into(), "\"".into()]),
                    ..CompletionOptions::default()
                }),
                definition_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    resolve_provider: Some(true),
                    ..CodeActionOptions::default()
                })),
                code_lens_provider: Some(CodeLensOptions { resolve_provider: Some(false) }),
                inlay_hint_provider: Some(OneOf::Left(true)),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
                    ..ExecuteCommandOptions::default()
                }),
                ..ServerCapabilities::default()
            },
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        // Not awaited: documents opened meanwhile get their own problems at once, and their
        // weaknesses when the view is loaded.
        let backend = self.handle();
        tokio::spawn(async move {
            backend.refresh_store(true).await;
            // Another process (`self-harness loop`) may write the store at any time.
            loop {
                tokio::time::sleep(STORE_POLL).await;
                backend.refresh_store(false).await;
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        for job in self.jobs.list() {
            self.jobs.cancel(&job.id);
        }
        stages::remove_containers().await;
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.state().documents.open(doc.uri.clone(), &doc.text, doc.version);
        self.publish(doc.uri).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let changed = self.state().documents.change(&uri, &params.content_changes, params.text_document.version);
        if changed {
            self.publish(uri).await;
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        // Saving a file a harness.toml names changes that manifest's problems.
        self.publish_all().await;
        let _ = params;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.state().documents.close(&params.text_document.uri);
        self.client.publish_diagnostics(params.text_document.uri, Vec::new(), None).await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        match Settings::from_value(&params.settings) {
            Ok(settings) => self.state().settings = settings,
            Err(e) => self.client.show_message(MessageType::ERROR, e).await,
        }
        self.publish_all().await;
    }

    async fn did_change_watched_files(&self, _: DidChangeWatchedFilesParams) {
        let backend = self.handle();
        tokio::spawn(async move { backend.refresh_store(false).await });
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let position = params.text_document_position_params.position;
        let uri = params.text_document_position_params.text_document.uri;
        let state = self.state();
        let (Some(doc), Some(path)) = (state.documents.get(&uri), uri.to_file_path()) else { return Ok(None) };
        if harness_files::kind_of(&path) != Some(Kind::Manifest) {
            return Ok(None);
        }
        let mut parts: Vec<String> = harness_files::hover(doc, position).into_iter().collect();
        if let Some((diagnostics, _)) = diagnostics_of(&state, &uri) {
            for d in diagnostics.iter().filter(|d| d.range.start.line == position.line) {
                if let Some(id) = d.data.as_ref().and_then(|data| data["weakness"].as_str()) {
                    parts.extend(actions::weakness_hover(&state.view, id));
                }
            }
        }
        Ok((!parts.is_empty()).then(|| Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: parts.join("\n\n---\n\n"),
            }),
            range: None,
        }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let position = params.text_document_position.position;
        let uri = params.text_document_position.text_document.uri;
        let state = self.state();
        let (Some(doc), Some(path)) = (state.documents.get(&uri), uri.to_file_path()) else { return Ok(None) };
        if harness_files::kind_of(&path) != Some(Kind::Manifest) {
            return Ok(None);
        }
        Ok(Some(CompletionResponse::Array(harness_files::completion(doc, position))))
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let position = params.text_document_position_params.position;
        let uri = params.text_document_position_params.text_document.uri;
        let state = self.state();
        let (Some(doc), Some(path)) = (state.documents.get(&uri), uri.to_file_path()) else { return Ok(None) };
        if harness_files::kind_of(&path) != Some(Kind::Manifest) {
            return Ok(None);
        }
        let target = path.parent().and_then(|dir| harness_files::definition(doc, position, dir));
        Ok(target.and_then(Uri::from_file_path).map(|uri| {
            GotoDefinitionResponse::Scalar(Location {
                uri,
                range: Range::new(Position::new(0, 0), Position::new(0, 0)),
            })
        }))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let view = self.state().view.clone();
        Ok(Some(actions::list(&view, &params.context.diagnostics)))
    }

    async fn code_action_resolve(&self, action: CodeAction) -> Result<CodeAction> {
        let view = self.state().view.clone();
        actions::resolve(&view, action, &|p| self.document_text(p)).map_err(Error::invalid_params)
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        Ok(Some(marks::code_lenses(&self.marks_of(&params.text_document.uri))))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let uri = params.text_document.uri;
        let found = self.marks_of(&uri);
        let text = self.state().documents.get(&uri).map(|d| d.text()).unwrap_or_default();
        Ok(Some(marks::inlay_hints(&found, &text)))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let argument = params.arguments.into_iter().next().unwrap_or(Value::Null);
        self.execute(&params.command, argument).map(Some)
    }
}
