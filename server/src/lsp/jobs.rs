//! Long work — validation, mining, proposing, evaluation, the unattended loop — as jobs.
//! Each runs in its own task, reports through `$/progress` (when the client supports it)
//! and the `selfHarness/jobs` notification, and can be cancelled by the progress's cancel
//! button or `selfHarness.cancel`: its future is dropped, which removes its containers
//! (the sandbox guards do) and leaves unfinished traces to be re-run, never counted.
//! Notifications leave through one queue, in the order they were made.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower_lsp::ls_types::notification::{Notification, Progress};
use tower_lsp::ls_types::request::WorkDoneProgressCreate;
use tower_lsp::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, ProgressToken, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressCreateParams, WorkDoneProgressEnd, WorkDoneProgressReport,
};
use tower_lsp::Client;

/// How many ended jobs are kept in the list (so a status line can say how they ended).
const KEEP_ENDED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    pub parent: f64,
    pub candidate: f64,
}

/// A job as clients see it (`selfHarness/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub state: JobStatus,
    pub message: String,
    pub done: u64,
    pub total: u64,
    pub pass_rate: Option<PassRate>,
}

/// `selfHarness/jobs`: the list, sent on every change.
pub enum JobsNotification {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobsParams {
    pub jobs: Vec<Job>,
}

impl Notification for JobsNotification {
    type Params = JobsParams;
    const METHOD: &'static str = "selfHarness/jobs";
}

enum Outgoing {
    Create(ProgressToken),
    Progress(ProgressToken, WorkDoneProgress),
    Jobs(Vec<Job>),
}

#[derive(Default)]
struct Registry {
    next: u64,
    jobs: Vec<Job>,
    cancel: HashMap<String, CancellationToken>,
}

/// The jobs of one server.
#[derive(Clone)]
pub struct Jobs {
    registry: Arc<Mutex<Registry>>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    /// Whether the client asked for `$/progress` (window.workDoneProgress).
    progress: Arc<std::sync::atomic::AtomicBool>,
}

impl Jobs {
    /// A registry whose notifications go to `client`, in order.
    pub fn new(client: Client) -> Jobs {
        let (outgoing, mut queue) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                match message {
                    Outgoing::Create(token) => {
                        // A client that refuses simply shows no progress; the job goes on.
                        let _ =
                            client.send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams { token }).await;
                    }
                    Outgoing::Progress(token, value) => {
                        client
                            .send_notification::<Progress>(ProgressParams {
                                token,
                                value: ProgressParamsValue::WorkDone(value),
                            })
                            .await
                    }
                    Outgoing::Jobs(jobs) => client.send_notification::<JobsNotification>(JobsParams { jobs }).await,
                }
            }
        });
        Jobs { registry: Arc::default(), outgoing, progress: Arc::default() }
    }

    pub fn set_progress_supported(&self, supported: bool) {
        self.progress.store(supported, std::sync::atomic::Ordering::Relaxed);
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A job that panicked while holding the lock leaves a usable list behind.
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn list(&self) -> Vec<Job> {
        self.registry().jobs.clone()
    }

    fn publish(&self) {
        let _ = self.outgoing.send(Outgoing::Jobs(self.list()));
    }

    fn progress_on(&self) -> bool {
        self.progress.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts `work` as a job and returns its id at once. `work` gets a [`JobHandle`] to
    /// report with; its `Ok` text or `Err` message ends the job.
    pub fn spawn<F, W>(&self, kind: &str, title: &str, work: W) -> String
    where
        W: FnOnce(JobHandle) -> F,
        F: Future<Output = Result<String, String>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        let id = {
            let mut registry = self.registry();
            registry.next += 1;
            let id = registry.next.to_string();
            registry.jobs.push(Job {
                id: id.clone(),
                kind: kind.into(),
                title: title.into(),
                state: JobStatus::Running,
                message: String::new(),
                done: 0,
                total: 0,
                pass_rate: None,
            });
            registry.cancel.insert(id.clone(), cancel.clone());
            id
        };
        let token = token_of(&id);
        if self.progress_on() {
            let _ = self.outgoing.send(Outgoing::Create(token.clone()));
            let begin = WorkDoneProgressBegin {
                title: title.into(),
                cancellable: Some(true),
                message: None,
                percentage: Some(0),
            };
            let _ = self.outgoing.send(Outgoing::Progress(token.clone(), WorkDoneProgress::Begin(begin)));
        }
        self.publish();
        let handle = JobHandle { id: id.clone(), jobs: self.clone() };
        let future = work(handle);
        let jobs = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let (state, message) = tokio::select! {
                outcome = future => match outcome {
                    Ok(message) => (JobStatus::Done, message),
                    Err(message) => (JobStatus::Failed, message),
                },
                _ = cancel.cancelled() => (JobStatus::Cancelled, "cancelled".to_string()),
            };
            jobs.end(&job_id, state, message);
        });
        id
    }

    fn end(&self, id: &str, state: JobStatus, message: String) {
        {
            let mut registry = self.registry();
            registry.cancel.remove(id);
            if let Some(job) = registry.jobs.iter_mut().find(|j| j.id == id) {
                // A finished job did all its work, episodes reused from the store included
                // (they report no progress as they run).
                if state == JobStatus::Done {
                    job.done = job.total;
                }
                job.state = state;
                job.message = message.clone();
            }
            let ended = registry.jobs.iter().filter(|j| j.state != JobStatus::Running).count();
            if ended > KEEP_ENDED {
                let oldest = registry.jobs.iter().position(|j| j.state != JobStatus::Running);
                if let Some(index) = oldest {
                    registry.jobs.remove(index);
                }
            }
        }
        if self.progress_on() {
            let end = WorkDoneProgress::End(WorkDoneProgressEnd { message: Some(message) });
            let _ = self.outgoing.send(Outgoing::Progress(token_of(id), end));
        }
        self.publish();
    }

    /// Cancels a running job; false when there is none with that id.
    pub fn cancel(&self, id: &str) -> bool {
        let token = self.registry().cancel.get(id).cloned();
        token.map(|t| t.cancel()).is_some()
    }

    /// Cancels the job a progress token belongs to (the client's cancel button).
    pub fn cancel_token(&self, token: &ProgressToken) -> bool {
        match token {
            NumberOrString::String(s) => s.strip_prefix("self-harness/").is_some_and(|id| self.cancel(id)),
            NumberOrString::Number(_) => false,
        }
    }

    /// Whether a job of this kind is running.
    pub fn running(&self, kind: &str) -> Option<String> {
        self.registry().jobs.iter().find(|j| j.kind == kind && j.state == JobStatus::Running).map(|j| j.id.clone())
    }
}

fn token_of(id: &str) -> ProgressToken {
    NumberOrString::String(format!("self-harness/{id}"))
}

/// What a running job reports with.
#[derive(Clone)]
pub struct JobHandle {
    id: String,
    jobs: Jobs,
}

impl JobHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new message, count and (when validating) the running pass rates.
    pub fn report(&self, message: String, done: u64, total: u64, pass_rate: Option<PassRate>) {
        {
            let mut registry = self.jobs.registry();
            if let Some(job) = registry.jobs.iter_mut().find(|j| j.id == self.id) {
                job.message = message.clone();
                job.done = done;
                job.total = total;
                job.pass_rate = pass_rate;
            }
        }
        if self.jobs.progress_on() {
            let percentage = (total > 0).then(|| ((done * 100) / total).min(100) as u32);
            let report = WorkDoneProgressReport { cancellable: Some(true), message: Some(message), percentage };
            let _ = self.jobs.outgoing.send(Outgoing::Progress(token_of(&self.id), WorkDoneProgress::Report(report)));
        }
        self.jobs.publish();
    }
}
