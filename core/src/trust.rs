//! Which project config files the user has trusted, and with what content.
//!
//! A `self-harness.toml` found by walking up from the working folder, or opened by the editor,
//! may be a cloned repository's, written by a stranger. Until its user trusts it, it may set
//! what sends nothing secret, but it may not choose which environment variable the key is
//! read from, and the endpoint it names gets no key (see [`crate::config`]). Trusting is
//! what the tools people already trust with this ask for (direnv's `direnv allow`, mise's
//! `mise trust`, VS Code's Workspace Trust): `self-harness trust FILE` records the file's
//! path and the sha256 of its content, so an edit made afterwards — by a `git pull`, say —
//! makes it untrusted again.
//!
//! The record lives in the user's config folder (`$XDG_CONFIG_HOME/self-harness/trusted.toml`,
//! else `~/.config/self-harness/trusted.toml`), never in a repository.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The record's file name in the user's config folder.
pub const FILE_NAME: &str = "trusted.toml";

/// One trusted file: where it is (canonical) and what it said when trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trusted {
    pub path: PathBuf,
    pub sha256: String,
    /// When (RFC 3339, UTC).
    pub trusted_at: String,
}

/// The user's record of trusted files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrustStore {
    #[serde(default, rename = "file")]
    pub files: Vec<Trusted>,
}

/// Where the record is, from the environment `env` stands in for: `$XDG_CONFIG_HOME`, else
/// `$HOME/.config`. `None` when neither is set (then nothing is trusted).
pub fn store_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    let base = set("XDG_CONFIG_HOME").or_else(|| set("HOME").map(|home| home.join(".config")))?;
    Some(base.join("self-harness").join(FILE_NAME))
}

/// The sha256 of a file's content, in hex.
pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The path a file is recorded under: canonical, so `./x/../self-harness.toml` and a link to
/// it are the same file.
fn canonical(file: &Path) -> PathBuf {
    file.canonicalize().unwrap_or_else(|_| file.to_path_buf())
}

impl TrustStore {
    /// The record at `path`; none yet is an empty record. One that cannot be read is an
    /// error naming the file: trusting nothing silently would hide it.
    pub fn load(path: &Path) -> Result<TrustStore, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TrustStore::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// Writes the record to `path`, readable by its owner only.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::util::write_atomic(path, text.as_bytes())?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }

    /// Whether `file`, whose content is `text`, is trusted as it is now.
    pub fn is_trusted(&self, file: &Path, text: &str) -> bool {
        let (path, sha256) = (canonical(file), digest(text));
        self.files.iter().any(|t| t.path == path && t.sha256 == sha256)
    }

    /// Trusts `file` with content `text` (replacing an earlier record of it); true when it
    /// was not trusted with this content before.
    pub fn trust(&mut self, file: &Path, text: &str) -> bool {
        if self.is_trusted(file, text) {
            return false;
        }
        let path = canonical(file);
        self.files.retain(|t| t.path != path);
        let trusted_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        self.files.push(Trusted { path, sha256: digest(text), trusted_at });
        true
    }

    /// Forgets `file`; true when it was recorded.
    pub fn revoke(&mut self, file: &Path) -> bool {
        let path = canonical(file);
        let before = self.files.len();
        self.files.retain(|t| t.path != path);
        self.files.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_bound_to_the_path_and_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("self-harness.toml");
        std::fs::write(&file, "[model]\n").unwrap();
        let mut store = TrustStore::default();
        assert!(!store.is_trusted(&file, "[model]\n"));
        assert!(store.trust(&file, "[model]\n"));
        assert!(!store.trust(&file, "[model]\n"), "already trusted with this content");
        assert!(store.is_trusted(&file, "[model]\n"));
        std::fs::create_dir(dir.path().join("x")).unwrap();
        assert!(store.is_trusted(&dir.path().join("x/../self-harness.toml"), "[model]\n"), "the same file");
        assert!(!store.is_trusted(&file, "[model]\napi_key_env = \"GITHUB_TOKEN\"\n"), "an edit untrusts it");
        assert!(!store.is_trusted(&dir.path().join("other.toml"), "[model]\n"), "another file");

        let record = dir.path().join("config/self-harness/trusted.toml");
        store.save(&record).unwrap();
        let loaded = TrustStore::load(&record).unwrap();
        assert_eq!(loaded, store);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);
        let mut loaded = loaded;
        assert!(loaded.revoke(&file) && !loaded.revoke(&file));
        assert!(loaded.files.is_empty());
    }

    #[test]
    fn the_record_lives_in_the_users_config_folder() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            store_path(&env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/self-harness/trusted.toml"))
        );
        assert_eq!(store_path(&env(&[("HOME", "/h")])), Some(PathBuf::from("/h/.config/self-harness/trusted.toml")));
        assert_eq!(store_path(&env(&[])), None);
    }

    #[test]
    fn a_record_that_cannot_be_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join(FILE_NAME);
        assert_eq!(TrustStore::load(&record).unwrap(), TrustStore::default(), "none yet: nothing trusted");
        std::fs::write(&record, "[[file]]\npath = 3\n").unwrap();
        let error = TrustStore::load(&record).unwrap_err();
        assert!(error.starts_with(&record.display().to_string()), "{error}");
    }
}
