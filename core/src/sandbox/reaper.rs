//! Nothing a run creates outlives it.
//!
//! Every container carries [`MANAGED_LABEL`] and [`OWNER_LABEL`] = this process
//! (`host/pid/start-time`). A process removes what it owns when it ends, Ctrl-C included
//! ([`remove_owned`]); what a SIGKILLed process left behind is removed by the next run's
//! [`sweep_orphans`], and meanwhile each container ends itself when its lifetime runs out.

use std::collections::HashMap;
use std::sync::OnceLock;

use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};

use super::{Engine, SandboxError};

/// Marks every container Self-Harness creates.
pub const MANAGED_LABEL: &str = "dev.self-harness.managed";
/// Which process created the container: `host/pid/start-time`.
pub const OWNER_LABEL: &str = "dev.self-harness.owner";

/// This process's owner id.
pub fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let pid = std::process::id();
        format!("{}/{pid}/{}", hostname(), process_start(pid).unwrap_or_default())
    })
}

/// The labels every managed container gets.
pub fn labels() -> HashMap<String, String> {
    HashMap::from([(MANAGED_LABEL.to_string(), "true".to_string()), (OWNER_LABEL.to_string(), owner().to_string())])
}

/// Removes every container this process created and still owns. Returns how many.
pub async fn remove_owned(engine: &Engine) -> Result<usize, SandboxError> {
    let ids = list(engine, Some(owner())).await?;
    for (id, _) in &ids {
        force_remove(engine, id).await;
    }
    Ok(ids.len())
}

/// Removes every managed container, whoever owns it. Returns how many.
pub async fn remove_all(engine: &Engine) -> Result<usize, SandboxError> {
    let ids = list(engine, None).await?;
    for (id, _) in &ids {
        force_remove(engine, id).await;
    }
    Ok(ids.len())
}

/// Removes managed containers whose owning process on this host is gone (it was killed
/// before it could clean up). Containers owned by live processes, or by other hosts
/// sharing the engine, are left alone. Returns how many were removed.
pub async fn sweep_orphans(engine: &Engine) -> Result<usize, SandboxError> {
    let host = hostname();
    let mut removed = 0;
    for (id, owner) in list(engine, None).await? {
        let mut parts = owner.splitn(3, '/');
        let (Some(owner_host), Some(pid), start) = (parts.next(), parts.next(), parts.next()) else { continue };
        if owner_host != host {
            continue;
        }
        let alive = pid.parse().ok().and_then(process_start).is_some_and(|s| Some(s.as_str()) == start);
        if !alive {
            force_remove(engine, &id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Force-removes a container and waits until it is really gone. "Already gone" and
/// "removal in progress" (it ends itself, or another task is removing it) are fine.
pub(crate) async fn force_remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match engine.docker().remove_container(id, Some(options)).await {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
        Err(e) => {
            tracing::warn!(container = id, "could not remove container: {e}");
            return;
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) =
            engine.docker().inspect_container(id, None).await
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tracing::warn!(container = id, "container still not removed after 30 s");
}

async fn list(engine: &Engine, owner: Option<&str>) -> Result<Vec<(String, String)>, SandboxError> {
    let label = match owner {
        Some(owner) => format!("{OWNER_LABEL}={owner}"),
        None => format!("{MANAGED_LABEL}=true"),
    };
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let containers = engine.docker().list_containers(Some(options)).await?;
    Ok(containers
        .into_iter()
        .filter_map(|c| {
            let owner = c.labels.as_ref()?.get(OWNER_LABEL)?.clone();
            Some((c.id?, owner))
        })
        .collect())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// The start time of a process (field 22 of `/proc/PID/stat`), which tells a live process
/// from a later one that reused its pid.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_has_a_start_time() {
        let start = process_start(std::process::id()).expect("start time of self");
        assert!(start.parse::<u64>().is_ok(), "{start}");
        assert!(owner().ends_with(&format!("/{}/{start}", std::process::id())));
    }
}
