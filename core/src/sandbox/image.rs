//! Task images: built from the task's Dockerfile context, cached by content hash.
//!
//! The tag is `self-harness-task/<task>:<hash>`, where the hash covers every file of the
//! build context (path, executable bit, content) and the ids of the base images it builds
//! from; an unchanged task is never rebuilt, a changed one always is.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::base::{self, BASE_LABEL};
use super::standins::{self, Serves};
use super::{python, reaper, ubuntu, Engine, SandboxError};

/// What to build.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Names the image (`self-harness-task/<name>`).
    pub name: String,
    pub context: PathBuf,
    /// Relative to `context`.
    pub dockerfile: PathBuf,
    pub timeout: Duration,
}

impl ImageSpec {
    /// The image of a task's environment.
    pub fn for_task(task: &crate::task::Task) -> ImageSpec {
        ImageSpec {
            name: task.name.clone(),
            context: task.environment.context.clone(),
            dockerfile: task.environment.dockerfile.clone(),
            timeout: task.environment.build_timeout,
        }
    }
}

/// A built (or cached) image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskImage {
    pub tag: String,
    pub cached: bool,
    #[serde(with = "crate::util::serde_secs")]
    pub duration: Duration,
    /// What the Ubuntu stand-in changed to build it ([`ubuntu::notes`]), one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stand_in: Vec<String>,
}

impl Engine {
    /// Returns the image for `spec`, building it unless an identical one exists.
    /// `log` receives the build output, line by line.
    pub async fn ensure_image(
        &self,
        spec: &ImageSpec,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<TaskImage, SandboxError> {
        let started = Instant::now();
        let context_name = spec.context.display().to_string();
        let dockerfile_path = spec.context.join(&spec.dockerfile);
        let dockerfile = tokio::fs::read_to_string(&dockerfile_path).await.map_err(|e| SandboxError::Build {
            context: context_name.clone(),
            message: format!("cannot read {}: {e}", dockerfile_path.display()),
            log_tail: String::new(),
        })?;

        let mut base_ids = Vec::new();
        for image in standins::from_images(&dockerfile) {
            base_ids.push(self.ensure_base(&image, log).await?);
        }

        let (context, dockerfile_rel) = (spec.context.clone(), spec.dockerfile.clone());
        let (hash, archive) = tokio::task::spawn_blocking(move || hash_and_archive(&context, &dockerfile_rel))
            .await
            .map_err(std::io::Error::other)??;
        let mut hasher = Sha256::new();
        hasher.update(hash);
        for id in &base_ids {
            hasher.update(id.as_bytes());
        }
        let tag = format!("self-harness-task/{}:{}", sanitize(&spec.name), hex::encode(&hasher.finalize()[..8]));

        if let Ok(cached) = self.docker().inspect_image(&tag).await {
            let stand_in = ubuntu::labelled_notes(cached.config.as_ref().and_then(|c| c.labels.as_ref()));
            return Ok(TaskImage { tag, cached: true, duration: started.elapsed(), stand_in });
        }

        let labels = HashMap::from([(reaper::MANAGED_LABEL.to_string(), "true".to_string())]);
        let dockerfile = spec.dockerfile.to_string_lossy();
        let mut stand_in = Vec::new();
        let mut log = |line: &str| {
            stand_in.extend(ubuntu::notes(line));
            log(line);
        };
        let built = self.build_image(&tag, &dockerfile, archive, &labels, spec.timeout, &mut log).await;
        built.map_err(|e| match e {
            SandboxError::Build { message, log_tail, .. } => {
                SandboxError::Build { context: context_name.clone(), message, log_tail }
            }
            SandboxError::BuildTimeout { timeout, .. } => {
                SandboxError::BuildTimeout { context: context_name.clone(), timeout }
            }
            other => other,
        })?;
        if !stand_in.is_empty() {
            ubuntu::label_notes(self, &tag, &stand_in).await?;
        }
        Ok(TaskImage { tag, cached: false, duration: started.elapsed(), stand_in })
    }

    /// Builds `archive` (a tar of the build context) as `tag`, streaming the output to
    /// `log`; a failure carries the last lines of that output.
    pub(crate) async fn build_image(
        &self,
        tag: &str,
        dockerfile: &str,
        archive: Vec<u8>,
        labels: &HashMap<String, String>,
        timeout: Duration,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), SandboxError> {
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(dockerfile)
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(labels)
            .build();
        let mut tail: VecDeque<String> = VecDeque::new();
        let build = async {
            let mut stream = self.docker().build_image(options, None, Some(bollard::body_full(archive.into())));
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| e.to_string())?;
                if let Some(text) = info.stream.as_deref() {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        log(line);
                        tail.push_back(line.to_string());
                        if tail.len() > 30 {
                            tail.pop_front();
                        }
                    }
                }
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(error);
                }
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, build).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => {
                let lines: Vec<_> = tail.into_iter().collect();
                let log_tail = if lines.is_empty() {
                    String::new()
                } else {
                    format!("\n  last build output:\n    {}", lines.join("\n    "))
                };
                Err(SandboxError::Build { context: tag.to_string(), message, log_tail })
            }
            Err(_) => Err(SandboxError::BuildTimeout { context: tag.to_string(), timeout }),
        }
    }

    /// Makes `image` available locally and returns its id: an image that exists is used as
    /// it is, except an alias of a stand-in, which is re-pointed at the current stand-in
    /// (a Python stand-in is built first if it is missing or out of date).
    async fn ensure_base(&self, image: &str, log: &mut (dyn FnMut(&str) + Send)) -> Result<String, SandboxError> {
        let name = standins::normalize(image);
        let existing = self.docker().inspect_image(&name).await.ok();
        let is_alias =
            existing.as_ref().and_then(|i| i.config.as_ref()?.labels.as_ref()?.get(BASE_LABEL).cloned()).is_some();
        let Some(stand_in) = standins::stand_in_for(&name) else {
            return existing.and_then(|i| i.id).ok_or(SandboxError::NoStandIn { image: name });
        };
        if existing.is_some() && !is_alias {
            // A real image of that name was loaded by hand: prefer it.
            return Ok(existing.and_then(|i| i.id).unwrap_or_default());
        }
        let (serving_tag, serving_id) =
            match &stand_in.serves {
                Serves::Base(base) => {
                    let found = self.docker().inspect_image(base.tag).await.map_err(|_| {
                        SandboxError::MissingBaseImage { image: name.clone(), base: base.tag.to_string() }
                    })?;
                    (base.tag.to_string(), found.id.unwrap_or_default())
                }
                Serves::Ubuntu(base) => (ubuntu::tag(base), ubuntu::ensure(self, base, log).await?.id),
                Serves::Python(python) => {
                    (python.tag(), python::ensure(self, python, &base::debian_mirror(), log).await?.id)
                }
            };
        if existing.and_then(|i| i.id).as_deref() != Some(serving_id.as_str()) {
            base::tag_alias(self, &serving_tag, &name).await?;
        }
        Ok(serving_id)
    }
}

/// Hashes the build context and packs it as the tar the engine expects. Symbolic links are
/// packed as links, as Docker's own build does, never followed: a task's `environment/keys
/// -> ~/.ssh` must not bake host files into an image the agent can read.
fn hash_and_archive(context: &Path, dockerfile: &Path) -> std::io::Result<([u8; 32], Vec<u8>)> {
    if !context.join(dockerfile).is_file() {
        return Err(std::io::Error::other(format!("{} not found", context.join(dockerfile).display())));
    }
    let mut entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(context)
        .follow_links(false)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?
        .into_iter()
        .filter(|e| e.file_type().is_file() || e.file_type().is_symlink())
        .collect();
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    let mut hasher = Sha256::new();
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    hasher.update(dockerfile.to_string_lossy().as_bytes());
    for entry in entries {
        let file = entry.path();
        let relative = file.strip_prefix(context).map_err(std::io::Error::other)?;
        hasher.update([0]);
        hasher.update(relative.to_string_lossy().as_bytes());
        if entry.file_type().is_symlink() {
            let target = std::fs::read_link(file)?;
            hasher.update([0, 2]);
            hasher.update(target.to_string_lossy().as_bytes());
        } else {
            let content = std::fs::read(file)?;
            let executable =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(file)?.permissions()) & 0o111 != 0;
            hasher.update([0, executable as u8]);
            hasher.update((content.len() as u64).to_le_bytes());
            hasher.update(&content);
        }
        builder.append_path_with_name(file, relative)?;
    }
    Ok((hasher.finalize().into(), builder.into_inner()?))
}

fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' })
        .collect();
    cleaned.trim_matches(|c| c == '-' || c == '.').chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_hash_changes_with_content_and_only_with_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM ubuntu:24.04\n").unwrap();
        std::fs::write(dir.path().join("data.txt"), "a").unwrap();
        let (first, _) = hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap();
        let (again, _) = hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_eq!(first, again);
        std::fs::write(dir.path().join("data.txt"), "b").unwrap();
        let (changed, _) = hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_ne!(first, changed);
    }

    #[test]
    fn links_are_packed_as_links_and_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("id_rsa"), "HOST SECRET").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM ubuntu:24.04\nCOPY . /ctx\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("keys")).unwrap();
        let (first, archive) = hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap();
        assert!(!archive.windows(11).any(|w| w == b"HOST SECRET"), "a host file went into the context");
        let mut entries = tar::Archive::new(archive.as_slice());
        let link = entries
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().as_os_str() == "keys")
            .expect("the link is in the context");
        assert_eq!(link.header().entry_type(), tar::EntryType::Symlink);
        assert_eq!(link.link_name().unwrap().unwrap(), outside.path());
        // Re-pointing the link changes the hash; what it points at does not.
        std::fs::write(outside.path().join("id_rsa"), "ANOTHER").unwrap();
        assert_eq!(hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap().0, first);
        std::fs::remove_file(dir.path().join("keys")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("keys")).unwrap();
        assert_ne!(hash_and_archive(dir.path(), Path::new("Dockerfile")).unwrap().0, first);
    }

    #[test]
    fn image_names_are_docker_safe() {
        assert_eq!(sanitize("My Task!"), "my-task");
    }
}
