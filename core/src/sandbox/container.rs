//! One container per episode, owned by a guard that removes it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::{exec, reaper, Engine, SandboxError, WORK_DIR};

/// What container to start.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub image: String,
    /// A readable prefix for the container name (the task's name).
    pub name_hint: String,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<i64>,
    /// A cap on the container's disk, where the engine can enforce one.
    pub storage_bytes: Option<i64>,
    pub pids_limit: i64,
    pub allow_internet: bool,
    /// The container stops (and removes itself) after this long even if nobody is left
    /// to remove it, e.g. after its owner was SIGKILLed.
    pub lifetime: Duration,
}

/// What the engine can give one container: its CPUs and memory, where it says, and
/// whether it can cap a container's disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    pub cpus: Option<f64>,
    pub memory_bytes: Option<i64>,
    pub storage: StorageQuota,
}

/// Whether the engine's storage driver can cap a container's disk (`--storage-opt size`):
/// btrfs and zfs can (the whole root file system, as a Terminal-Bench sandbox's disk), and
/// overlay2 on xfs mounted with `pquota` (the writable layer); overlay2 on ext4, this
/// machine's usual engine, cannot (scripts/docker-with-disk-quota.sh starts one that can).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StorageQuota {
    /// The engine did not say what it runs on.
    #[default]
    Unknown,
    Enforced,
    /// Why not, as a person reads it ("overlay2 on extfs has no per-container quota").
    Unavailable(String),
}

impl StorageQuota {
    /// From `docker info`'s storage driver and its status rows (`Backing Filesystem`).
    pub fn of(driver: Option<&str>, status: &[Vec<String>]) -> StorageQuota {
        let backing = status.iter().find(|row| row.first().is_some_and(|k| k == "Backing Filesystem"));
        let backing = backing.and_then(|row| row.get(1)).map(String::as_str);
        match (driver, backing) {
            (Some("btrfs" | "zfs"), _) | (Some("overlay2"), Some("xfs")) => StorageQuota::Enforced,
            (Some(driver), Some(backing)) => {
                StorageQuota::Unavailable(format!("{driver} on {backing} has no per-container quota"))
            }
            (Some(driver), None) => StorageQuota::Unavailable(format!("{driver} has no per-container quota")),
            (None, _) => StorageQuota::Unknown,
        }
    }
}

/// Upper bound on processes in a task container, against fork bombs.
const TASK_PIDS_LIMIT: i64 = 4096;
/// Slack on top of the agent and verifier timeouts before a task container ends itself.
const LIFETIME_SLACK: Duration = Duration::from_secs(600);

impl SandboxSpec {
    /// A container for `task` from `image`, with the task's limits, that ends itself once
    /// the agent and the verifier have certainly had their time.
    pub fn for_task(task: &crate::task::Task, image: &str) -> SandboxSpec {
        SandboxSpec {
            image: image.to_string(),
            name_hint: task.name.clone(),
            cpus: task.environment.cpus,
            memory_bytes: task.environment.memory_bytes,
            storage_bytes: task.environment.storage_bytes,
            pids_limit: TASK_PIDS_LIMIT,
            allow_internet: task.environment.allow_internet,
            lifetime: task.agent_timeout + task.verifier.timeout + LIFETIME_SLACK,
        }
    }

    /// The spec with its CPU and memory limits capped to what `capacity` has, and what was
    /// capped, as a task's author reads it ("asked 4 CPUs, ran with 2"). Terminal-Bench's
    /// harness and Harbor run such a task on a smaller machine the same way; the engine
    /// would refuse the container instead. A storage limit the engine cannot enforce is
    /// dropped and said, never ignored silently.
    pub fn fitted(&self, capacity: &Capacity) -> (SandboxSpec, Option<String>) {
        let mut fitted = self.clone();
        let mut said = Vec::new();
        if let (Some(asked), Some(has)) = (self.cpus, capacity.cpus) {
            if asked > has {
                fitted.cpus = Some(has);
                said.push(format!("asked {asked} CPUs, ran with {has}"));
            }
        }
        if let (Some(asked), Some(has)) = (self.memory_bytes, capacity.memory_bytes) {
            if asked > has {
                fitted.memory_bytes = Some(has);
                said.push(format!("asked {} of memory, ran with {}", mib(asked), mib(has)));
            }
        }
        if let Some(asked) = self.storage_bytes {
            let why = match &capacity.storage {
                StorageQuota::Enforced => None,
                StorageQuota::Unavailable(why) => Some(why.as_str()),
                StorageQuota::Unknown => Some("the engine does not say whether it can cap a container's disk"),
            };
            if let Some(why) = why {
                fitted.storage_bytes = None;
                said.push(format!("asked {} of storage, not enforced here ({why})", mib(asked)));
            }
        }
        (fitted, (!said.is_empty()).then(|| said.join("; ")))
    }
}

fn mib(bytes: i64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

/// A running container. Dropping it removes the container in the background; call
/// [`Sandbox::remove`] to remove it and wait.
pub struct Sandbox {
    pub(super) engine: Engine,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) exec_server: tokio::sync::Mutex<Option<super::exec::ExecServer>>,
    removed: AtomicBool,
    capped: Option<String>,
}

impl Engine {
    /// Creates and starts a container for `spec`.
    ///
    /// Safe to cancel: the work runs in a task of its own. Dropped while the engine is
    /// still creating the container (a cancelled job, a timeout), the caller would leave a
    /// container that no guard owns; the task instead finishes, and the guard it returns
    /// to nobody is dropped and removes the container.
    pub async fn start_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, SandboxError> {
        let (engine, spec) = (self.clone(), spec.clone());
        tokio::spawn(async move { engine.create_and_start(&spec).await }).await.map_err(std::io::Error::other)?
    }

    async fn create_and_start(&self, asked: &SandboxSpec) -> Result<Sandbox, SandboxError> {
        let capacity = self.capacity();
        let (spec, capped) = asked.fitted(&capacity);
        match self.create_and_start_fitted(&spec, capped).await {
            // overlay2 on xfs mounted without `pquota` refuses a size: run without one, and say so.
            Err(SandboxError::Docker(e)) if spec.storage_bytes.is_some() && e.to_string().contains("storage-opt") => {
                let why = format!("the engine refused it: {e}");
                let (spec, capped) = asked.fitted(&Capacity { storage: StorageQuota::Unavailable(why), ..capacity });
                self.create_and_start_fitted(&spec, capped).await
            }
            other => other,
        }
    }

    async fn create_and_start_fitted(
        &self,
        spec: &SandboxSpec,
        capped: Option<String>,
    ) -> Result<Sandbox, SandboxError> {
        let name = format!("self-harness-{}-{}", sanitize(&spec.name_hint), random_suffix());
        let host_config = HostConfig {
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            memory: spec.memory_bytes,
            // Without a swap limit equal to memory, a memory limit only moves pages to swap.
            memory_swap: spec.memory_bytes,
            pids_limit: Some(spec.pids_limit),
            network_mode: (!spec.allow_internet).then(|| "none".to_string()),
            storage_opt: spec.storage_bytes.map(|bytes| HashMap::from([("size".to_string(), bytes.to_string())])),
            // tini as pid 1 reaps the orphans of background jobs the agent starts.
            init: Some(true),
            auto_remove: Some(true),
            // Command output lives in memory, capped (a quarter of a memory limit at most, so
            // a flood cannot push the container into its OOM killer).
            tmpfs: Some(HashMap::from([(
                WORK_DIR.to_string(),
                format!("size={},mode=1777", output_space(spec.memory_bytes)),
            )])),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: Some(vec!["sleep".into()]),
            cmd: Some(vec![spec.lifetime.as_secs().max(1).to_string()]),
            labels: Some(reaper::labels()),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self.docker().create_container(Some(options), body).await?;
        let sandbox = Sandbox {
            engine: self.clone(),
            id: created.id,
            name,
            exec_server: tokio::sync::Mutex::new(None),
            removed: AtomicBool::new(false),
            capped,
        };
        // On failure the guard removes the created container.
        self.docker().start_container(&sandbox.id, None).await?;
        Ok(sandbox)
    }
}

impl Sandbox {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task's limits this container could not have, said (see [`SandboxSpec::fitted`]).
    pub fn capped(&self) -> Option<&str> {
        self.capped.as_deref()
    }

    /// Copies a host file or folder to `to` (an absolute path) in the container; a folder's
    /// contents land inside `to`. Missing parent folders are created; file modes are kept.
    /// Symbolic links are copied as links, never followed: a task's `tests -> ~/.ssh` must
    /// not carry host files into the container.
    pub async fn upload(&self, from: &Path, to: &str) -> Result<(), SandboxError> {
        let (from, to) = (from.to_path_buf(), to.trim_start_matches('/').to_string());
        let archive = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut builder = tar::Builder::new(Vec::new());
            builder.mode(tar::HeaderMode::Deterministic);
            builder.follow_symlinks(false);
            append_parents(&mut builder, &to)?;
            if from.is_dir() {
                builder.append_dir_all(&to, &from)?;
            } else {
                builder.append_path_with_name(&from, &to)?;
            }
            builder.into_inner()
        })
        .await
        .map_err(std::io::Error::other)??;
        self.upload_tar(archive).await
    }

    /// Writes `bytes` to the file `path` in the container with the given mode.
    pub async fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> Result<(), SandboxError> {
        let path = path.trim_start_matches('/');
        let mut builder = tar::Builder::new(Vec::new());
        append_parents(&mut builder, path)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        // Written now, so a hook can tell what an episode changed (`find -newer "$0"`).
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        header.set_mtime(now);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, bytes)?;
        self.upload_tar(builder.into_inner()?).await
    }

    async fn upload_tar(&self, archive: Vec<u8>) -> Result<(), SandboxError> {
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.engine
            .docker()
            .upload_to_container(&self.id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| self.gone_or(e))
    }

    /// Reads a regular file from the container; `None` when it does not exist.
    pub async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SandboxError> {
        let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
        let stream = self.engine.docker().download_from_container(&self.id, Some(options));
        let chunks: Vec<bytes::Bytes> = match stream.try_collect().await {
            Ok(chunks) => chunks,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
            Err(e) => return Err(self.gone_or(e)),
        };
        let archive = chunks.concat();
        let mut entries = tar::Archive::new(archive.as_slice());
        for entry in entries.entries()? {
            let mut entry = entry?;
            if entry.header().entry_type().is_file() {
                let mut content = Vec::new();
                entry.read_to_end(&mut content)?;
                return Ok(Some(content));
            }
        }
        Ok(None)
    }

    /// Removes the container and waits until it is gone.
    pub async fn remove(self) {
        self.removed.store(true, Ordering::SeqCst);
        // In a task of its own: a caller cancelled while it waits here (an editor's job
        // cancelled as an episode ends) must not leave the container half removed, and its
        // guard, marked removed, would no longer do it.
        let (engine, id) = (self.engine.clone(), self.id.clone());
        let removal = tokio::spawn(async move { reaper::force_remove(&engine, &id).await });
        let _ = removal.await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        // Dropped on an error path or by cancellation: remove in the background. If the
        // runtime is shutting down, the Ctrl-C path's `reaper::remove_owned` does it.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (engine, id) = (self.engine.clone(), self.id.clone());
            handle.spawn(async move { reaper::force_remove(&engine, &id).await });
        }
    }
}

/// Adds folder entries for each parent of `path` so that extraction creates them.
fn append_parents(builder: &mut tar::Builder<Vec<u8>>, path: &str) -> std::io::Result<()> {
    let mut prefix = String::new();
    let parents: Vec<&str> = path.split('/').collect();
    for part in &parents[..parents.len().saturating_sub(1)] {
        prefix.push_str(part);
        prefix.push('/');
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder.append_data(&mut header, &prefix, std::io::empty())?;
    }
    Ok(())
}

/// Bytes of the tmpfs that holds command output.
fn output_space(memory_bytes: Option<i64>) -> i64 {
    memory_bytes.map_or(exec::OUTPUT_SPACE, |m| exec::OUTPUT_SPACE.min(m / 4))
}

fn sanitize(hint: &str) -> String {
    let cleaned: String = hint
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "task".into()
    } else {
        cleaned
    }
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:08x}", hasher.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cpus: Option<f64>, memory_bytes: Option<i64>) -> SandboxSpec {
        SandboxSpec {
            image: "i".into(),
            name_hint: "t".into(),
            cpus,
            memory_bytes,
            storage_bytes: None,
            pids_limit: 1,
            allow_internet: false,
            lifetime: Duration::from_secs(1),
        }
    }

    #[test]
    fn limits_beyond_the_engine_are_capped_and_said() {
        let host = Capacity { cpus: Some(2.0), memory_bytes: Some(8 << 30), storage: StorageQuota::Enforced };
        let host = &host;
        let (fitted, said) = spec(Some(4.0), Some(16 << 30)).fitted(host);
        assert_eq!((fitted.cpus, fitted.memory_bytes), (Some(2.0), Some(8 << 30)));
        assert_eq!(said.as_deref(), Some("asked 4 CPUs, ran with 2; asked 16384 MiB of memory, ran with 8192 MiB"));
        let (fitted, said) = spec(Some(1.5), Some(1 << 30)).fitted(host);
        assert_eq!((fitted.cpus, fitted.memory_bytes, said), (Some(1.5), Some(1 << 30), None), "within: as asked");
        let (fitted, said) = spec(None, None).fitted(host);
        assert_eq!((fitted.cpus, fitted.memory_bytes, said), (None, None, None), "no limit stays none");
        let (fitted, said) = spec(Some(64.0), None).fitted(&Capacity::default());
        assert_eq!((fitted.cpus, said), (Some(64.0), None), "an engine that does not say: left as asked");
    }

    #[test]
    fn a_storage_limit_is_enforced_where_the_driver_can_and_otherwise_said() {
        let asking = SandboxSpec { storage_bytes: Some(10 << 30), ..spec(None, None) };
        let ext4 = StorageQuota::of(Some("overlay2"), &[vec!["Backing Filesystem".into(), "extfs".into()]]);
        assert_eq!(ext4, StorageQuota::Unavailable("overlay2 on extfs has no per-container quota".into()));
        let (fitted, said) = asking.fitted(&Capacity { storage: ext4, ..Capacity::default() });
        assert_eq!(fitted.storage_bytes, None, "not asked of an engine that would refuse the container");
        assert_eq!(
            said.as_deref(),
            Some("asked 10240 MiB of storage, not enforced here (overlay2 on extfs has no per-container quota)")
        );
        let xfs = StorageQuota::of(Some("overlay2"), &[vec!["Backing Filesystem".into(), "xfs".into()]]);
        let (fitted, said) = asking.fitted(&Capacity { storage: xfs, ..Capacity::default() });
        assert_eq!((fitted.storage_bytes, said), (Some(10 << 30), None));
        assert_eq!(StorageQuota::of(Some("btrfs"), &[]), StorageQuota::Enforced);
        let (_, said) = asking.fitted(&Capacity::default());
        assert!(said.is_some_and(|s| s.contains("does not say")), "unknown is said too");
        let (_, said) = spec(None, None).fitted(&Capacity::default());
        assert_eq!(said, None, "no storage asked: nothing to say");
    }
}
