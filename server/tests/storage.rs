//! A task's `storage` limit, for real, on both kinds of engine: a second Docker engine on
//! btrfs (`scripts/docker-with-disk-quota.sh`) enforces it — the task's 1.5 GiB write into a
//! 1 GiB disk is refused — and this machine's own engine (overlay2 on ext4), which cannot,
//! runs the same task unlimited and says so in the detail. Needs root, as CI has, and
//! btrfs-progs (`scripts/setup-docker.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, fixture, run};
use self_harness::sandbox::StorageQuota;

/// The second engine; stopped, unmounted and removed on drop, whatever the test did.
struct QuotaEngine {
    dir: PathBuf,
    host: String,
}

impl QuotaEngine {
    fn start(dir: &Path) -> QuotaEngine {
        let output = Command::new("bash")
            .arg(common::repo_root().join("scripts/docker-with-disk-quota.sh"))
            .args(["start"])
            .arg(dir)
            .arg("4G")
            .output()
            .expect("run docker-with-disk-quota.sh");
        let engine =
            QuotaEngine { dir: dir.to_path_buf(), host: String::from_utf8_lossy(&output.stdout).trim().into() };
        assert!(
            output.status.success(),
            "docker-with-disk-quota.sh start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        engine
    }

    /// Gives it the image the stand-ins build on, from the machine's engine.
    fn load(&self, image: &str) {
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!("docker save {image} | DOCKER_HOST={} docker load -q", self.host))
            .status()
            .unwrap();
        assert!(status.success(), "loading {image} (run `self-harness images build` first)");
    }
}

impl Drop for QuotaEngine {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(common::repo_root().join("scripts/docker-with-disk-quota.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

fn check(docker_host: Option<&str>, logs: &Path) -> serde_json::Value {
    let mut command = bin();
    command.args(["tasks", "check", "--oracle", "--json", "--logs"]).arg(logs).arg(fixture("storage"));
    if let Some(host) = docker_host {
        command.env("DOCKER_HOST", host);
    }
    let report = common::finished(&run(&mut command));
    report["results"][0].clone()
}

#[test]
fn a_storage_limit_is_enforced_where_the_engine_can_and_said_where_it_cannot() {
    if !common::docker_available() {
        return;
    }
    let logs = tempfile::tempdir().unwrap();

    // This machine's engine (overlay2 on ext4) cannot cap a container's disk: the write goes
    // through, and the detail says the limit was not applied.
    let here = check(None, &logs.path().join("here"));
    assert_eq!(here["task"], "disk-limit");
    let detail = here["detail"].as_str().unwrap();
    let quota = tokio::runtime::Runtime::new().unwrap().block_on(common::storage_quota());
    match quota {
        StorageQuota::Unavailable(why) => {
            assert_eq!(here["status"], "fail", "{here}");
            assert!(detail.contains(&format!("asked 1024 MiB of storage, not enforced here ({why})")), "{detail}");
        }
        other => assert_eq!(here["status"], "pass", "{other:?}: {here}"),
    }

    // On btrfs the same task's write is refused, and nothing is said.
    let docker0 = || Command::new("ip").args(["link", "show", "docker0"]).output().is_ok_and(|o| o.status.success());
    let had_docker0 = docker0();
    let scratch = tempfile::Builder::new().prefix("sh-quota").tempdir_in("/tmp").unwrap();
    let engine = QuotaEngine::start(scratch.path());
    engine.load("self-harness/base:trixie");
    let capped = check(Some(&engine.host), &logs.path().join("quota"));
    assert_eq!(capped["status"], "pass", "{capped}");
    assert!(!capped["detail"].as_str().unwrap().contains("storage"), "{capped}");
    // The second engine leaves the machine's own alone (`--bridge none` deleted its docker0).
    drop(engine);
    assert_eq!(docker0(), had_docker0, "the machine's engine lost its bridge");
}
