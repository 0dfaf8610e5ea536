//! The editor's settings (`initializationOptions` and `workspace/didChangeConfiguration`,
//! under `selfHarness`): what the jobs act on and how. Every key is optional; what is not
//! set falls back to `self-harness.toml` and the `OPENAI_*` environment, as for the CLI.
//! The API key is never a setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{ConfigError, ProjectConfig};

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
    pub episode_timeout_secs: Option<u64>,
    pub budget_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
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
        self.repeats.unwrap_or(2).clamp(1, 20)
    }

    pub fn parallel(&self) -> usize {
        usize::from(self.parallel.unwrap_or(1).clamp(1, 64))
    }

    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }

    pub fn policy(&self) -> crate::validate::Policy {
        match self.policy.as_deref() {
            Some("paper") => crate::validate::Policy::Paper,
            _ => crate::validate::Policy::default(),
        }
    }

    /// The model configuration: the project's, with these settings on top.
    pub fn model_config(&self, project: &Path) -> Result<crate::config::ModelConfig, ConfigError> {
        let mut config = ProjectConfig::load(project)?.model;
        if let Some(base_url) = &self.model.base_url {
            config.base_url = base_url.clone();
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
}
