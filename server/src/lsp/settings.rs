//! The editor's settings (`initializationOptions` and `workspace/didChangeConfiguration`,
//! under `selfHarness`): what the jobs act on and how. Every key is optional; what is not
//! set falls back to `self-harness.toml` and the `OPENAI_*` environment, as for the CLI.
//! The API key is never a setting. `workspaceTrusted` is the editor's own word on the
//! workspace (VS Code's Workspace Trust), not a user's setting: granted, the workspace's
//! `self-harness.toml` and settings are trusted as `self-harness trust` would make them;
//! refused, no job runs; absent (Neovim, Helix), the user's record decides
//! ([`crate::trust`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{Chooser, ConfigError, ProjectConfig};
use crate::stages::propose::{Budget, ProposeOptions, Proposer};
use crate::stages::validate::{AcceptanceRule, ValidateOptions};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// The harness folder the jobs act on, relative to the project.
    pub harness: Option<PathBuf>,
    /// The task folder, relative to the project.
    pub tasks: Option<PathBuf>,
    pub model: ModelSettings,
    pub repeats: Option<u32>,
    pub parallel: Option<u16>,
    pub seed: Option<u64>,
    /// `paired` (default) or `paper`.
    pub policy: Option<String>,
    /// The sign test's significance level.
    pub alpha: Option<f64>,
    /// Reject a candidate that spends more than this many times its parent's tokens.
    pub max_cost_ratio: Option<f64>,
    /// Candidates asked for per weakness.
    pub candidates: Option<usize>,
    /// Most lines an edit of the proposer may change (the catalog's reviewed remedies have a budget of their own).
    pub max_changed_lines: Option<u32>,
    /// Who proposes: the model, or an ablation.
    pub proposer: Option<Proposer>,
    /// Weaknesses the loop addresses per iteration.
    pub weaknesses: Option<usize>,
    /// Candidates the loop validates per iteration, the best on the mine split (0: all).
    pub finalists: Option<usize>,
    pub episode_timeout_secs: Option<u64>,
    pub budget_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
    /// Whether the editor trusts the workspace (VS Code's Workspace Trust).
    pub workspace_trusted: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModelSettings {
    pub base_url: Option<String>,
    pub model: Option<String>,
}

impl Settings {
    /// Reads `selfHarness` from a settings object, or the object itself when it has no
    /// such key (initializationOptions carry it bare). Unknown keys are ignored; a value of
    /// the wrong type is an error naming it.
    pub fn from_value(value: &serde_json::Value) -> Result<Settings, String> {
        let inner = value.get("selfHarness").unwrap_or(value);
        if inner.is_null() {
            return Ok(Settings::default());
        }
        serde_path_to_error::deserialize(inner.clone())
            .map_err(|e| format!("selfHarness settings: `{}`: {}", e.path(), e.inner()))
    }

    pub fn harness_dir(&self, project: &Path) -> PathBuf {
        project.join(self.harness.clone().unwrap_or_else(|| PathBuf::from("harnesses/minimal")))
    }

    pub fn tasks_dir(&self, project: &Path) -> PathBuf {
        project.join(self.tasks.clone().unwrap_or_else(|| PathBuf::from("tasks")))
    }

    pub fn repeats(&self) -> u32 {
        self.repeats.unwrap_or(crate::stages::DEFAULT_REPEATS).clamp(1, 20)
    }

    pub fn parallel(&self) -> usize {
        usize::from(self.parallel.unwrap_or(1).clamp(1, 64))
    }

    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    /// How a candidate is judged; what is not set is the CLI's default.
    pub fn validate_options(&self) -> ValidateOptions {
        let policy = match self.policy.as_deref() {
            Some("paper") => AcceptanceRule::Paper,
            _ => AcceptanceRule::PairedTasks { alpha: self.alpha.unwrap_or(AcceptanceRule::DEFAULT_ALPHA) },
        };
        ValidateOptions { policy, max_cost_ratio: self.max_cost_ratio, ..ValidateOptions::default() }
    }

    /// How proposals are asked for; what is not set is the CLI's default.
    pub fn propose_options(&self) -> ProposeOptions {
        let defaults = ProposeOptions::default();
        ProposeOptions {
            candidates: self.candidates.unwrap_or(defaults.candidates).clamp(1, 10),
            proposer: self.proposer.unwrap_or(defaults.proposer),
            budget: self.max_changed_lines.map_or(defaults.budget, |max_changed_lines| Budget { max_changed_lines }),
            seed: self.seed(),
            iteration: 0,
        }
    }

    /// The proposer's model configuration: `[proposer]` of the project config, else the
    /// acting model's (with these settings on top).
    pub fn proposer_config(&self, project: &Path) -> Result<crate::config::ModelConfig, ConfigError> {
        let loaded = self.project_config(project)?;
        match loaded.proposer_is_actor() {
            true => self.model_config(project),
            false => Ok(loaded.proposer),
        }
    }

    /// The project's `self-harness.toml`, trusted as the editor says (or the user's record).
    pub fn project_config(&self, project: &Path) -> Result<ProjectConfig, ConfigError> {
        ProjectConfig::load_in_workspace(project, &|name| std::env::var(name).ok(), self.workspace_trusted)
    }

    /// Why no job may run here, when the editor says the workspace is not trusted.
    pub fn refused(&self) -> Option<String> {
        (self.workspace_trusted == Some(false)).then(|| {
            "this workspace is not trusted (the editor's restricted mode): jobs, which run its harness in containers \
             and talk to the model, start once you trust it"
                .to_string()
        })
    }

    /// The model configuration: the project's, with these settings on top.
    pub fn model_config(&self, project: &Path) -> Result<crate::config::ModelConfig, ConfigError> {
        let mut config = self.project_config(project)?.model;
        if let Some(base_url) = &self.model.base_url {
            // Workspace settings travel with a repository: the key goes there only if trusted.
            config.base_url = base_url.clone();
            let chooser = Chooser {
                who: "the editor setting selfHarness.model.baseUrl",
                allow: "trust the workspace in the editor",
            };
            let chosen_by = (self.workspace_trusted != Some(true)).then_some(chooser);
            config.read_key(&|name| std::env::var(name).ok(), chosen_by);
        }
        if let Some(model) = &self.model.model {
            config.model = model.clone();
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_or_bare_and_wrong_types_named() {
        let nested = Settings::from_value(&json!({"selfHarness": {"repeats": 3, "model": {"baseUrl": "http://x/v1"}}}));
        let nested = nested.unwrap();
        assert_eq!((nested.repeats(), nested.model.base_url.as_deref()), (3, Some("http://x/v1")));
        assert_eq!(Settings::from_value(&json!({"parallel": 2, "unknown": 1})).unwrap().parallel(), 2);
        assert_eq!(Settings::from_value(&json!(null)).unwrap(), Settings::default());
        let error = Settings::from_value(&json!({"repeats": "many"})).unwrap_err();
        assert!(error.contains("selfHarness settings: `repeats`: invalid type"), "{error}");
    }

    #[test]
    fn the_options_are_the_clis_with_the_settings_on_top() {
        let unset = Settings::default();
        let (validate, propose) = (unset.validate_options(), unset.propose_options());
        assert_eq!((validate.policy, validate.max_cost_ratio), (AcceptanceRule::default(), None));
        assert_eq!((propose.candidates, propose.budget.max_changed_lines), (3, 12));
        let set = Settings::from_value(&json!({"alpha": 0.01, "maxCostRatio": 1.5, "candidates": 40,
                                               "maxChangedLines": 4, "proposer": "random", "seed": 9}))
        .unwrap();
        let validate = set.validate_options();
        assert_eq!(
            (validate.policy, validate.max_cost_ratio),
            (AcceptanceRule::PairedTasks { alpha: 0.01 }, Some(1.5))
        );
        let propose = set.propose_options();
        assert_eq!((propose.candidates, propose.budget.max_changed_lines, propose.seed), (10, 4, 9), "clamped");
        assert_eq!(propose.proposer, Proposer::Random);
        let paper = Settings::from_value(&json!({"policy": "paper", "alpha": 0.5})).unwrap();
        assert_eq!(paper.validate_options().policy, AcceptanceRule::Paper);
    }
}
