//! Where commands run: the container engine (the only part of Self-Harness that talks
//! to Docker), and the terminal an agent sees on top of it or of another runner.
//!
//! [`Engine`] connects to the local Docker engine (through bollard, negotiating the API
//! version, honouring `DOCKER_HOST`), builds task images ([`image`]) on top of locally
//! built stand-ins for registry base images ([`standins`], [`base`], [`ubuntu`], [`python`]), and starts
//! [`Sandbox`]es: one container per episode, with the task's limits, that can run
//! commands with a hard timeout and exchange files. Every container is labelled with its
//! owner and registered in [`reaper`], so that it is removed on every path: normal end,
//! error, Ctrl-C, and (by the next run's sweep and the container's own lifetime) SIGKILL.
//! The agent asks only for a [`Terminal`]: a `Sandbox`, or a [`remote::Remote`] whose
//! commands a driver such as Harbor performs in its own environments. On it the agent runs
//! whole commands in a [`Shell`], or types keystrokes into a [`Pane`].

pub mod base;
mod container;
mod error;
mod exec;
pub mod image;
pub mod offline;
mod pane;
pub mod python;
pub mod reaper;
pub mod remote;
mod shell;
pub mod standins;
mod terminal;
pub mod ubuntu;

use std::time::Duration;

use bollard::Docker;

/// Where the exec server, its one-shot remote form and the shell sessions keep their
/// scripts, outputs, pids and saved state inside a container; in the containers we start,
/// a size-capped tmpfs (see `exec::OUTPUT_SPACE`).
pub(crate) const WORK_DIR: &str = "/tmp/.self-harness";

pub use container::{Capacity, Sandbox, SandboxSpec, StorageQuota};
pub use error::SandboxError;
pub use exec::{ExecOptions, ExecOutput};
pub use pane::{typed_output, Pane, PANE_COLUMNS, PANE_ROWS};
pub use shell::{Shell, COMMAND_OUTPUT_LIMIT};
pub use terminal::Terminal;

/// A connection to the local Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    capacity: Capacity,
}

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST` (a unix socket or tcp address), or the
    /// local default socket, and agrees on an API version both sides speak.
    pub async fn connect() -> Result<Engine, SandboxError> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let unreachable =
            |source: bollard::errors::Error| SandboxError::Unreachable { endpoint: endpoint.clone(), source };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = docker.with_timeout(Duration::from_secs(3600));
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        // What the engine has (`docker info`); unknown leaves a task's limits as they are.
        let capacity = match docker.info().await {
            Ok(info) => Capacity {
                cpus: info.ncpu.filter(|n| *n > 0).map(|n| n as f64),
                memory_bytes: info.mem_total.filter(|m| *m > 0),
                storage: StorageQuota::of(info.driver.as_deref(), info.driver_status.as_deref().unwrap_or_default()),
            },
            Err(_) => Capacity::default(),
        };
        Ok(Engine { docker, capacity })
    }

    /// The CPUs and memory the engine can give one container, and whether it caps disk.
    pub fn capacity(&self) -> Capacity {
        self.capacity.clone()
    }

    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Whether an image of that name or id exists locally.
    pub async fn has_image(&self, name: &str) -> bool {
        self.docker.inspect_image(name).await.is_ok()
    }

    /// Removes a local image by name, if it is there (its other tags keep it alive).
    pub async fn remove_image(&self, name: &str) {
        let _ = self.docker.remove_image(name, None::<bollard::query_parameters::RemoveImageOptions>, None).await;
    }

    /// The API version agreed with the engine, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }
}
