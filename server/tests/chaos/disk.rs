//! The disk full while the loop appends to its ledger (a small tmpfs holds it): a clear
//! error naming the file, and the next run repairs the ledger and resumes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::vim_project::{vim_model, workspace, FIX};
use super::support::ScriptedModel;
use super::{assert_consistent, assert_no_container_left, common, entries, loop_command, serial};

/// A tmpfs of `size` mounted at `at` for as long as it lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let options = format!("size={size}");
        let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(at).status().unwrap();
        assert!(mounted.success(), "cannot mount a tmpfs at {} (this test needs root)", at.display());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_under_the_ledger_is_a_clear_error_and_the_next_run_resumes() {
    let _serial = serial().await;
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (root, tasks, harness, cwd) = workspace();
    // The ledger lives on a 64 KiB tmpfs, which a filler leaves 8 KiB of: the loop's ledger
    // outgrows that in its first iteration.
    let small = Tmpfs::mount(&root.path().join("small"), "64k");
    let filler = small.0.join("filler");
    std::fs::write(&filler, vec![0u8; 56 * 1024]).unwrap();
    std::fs::create_dir_all(cwd.join(".self-harness")).unwrap();
    let ledger = cwd.join(".self-harness/ledger.jsonl");
    std::os::unix::fs::symlink(small.0.join("ledger.jsonl"), &ledger).unwrap();

    let output = super::run(loop_command(&cwd, model.base_url(), &tasks, &harness)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ledger.jsonl: No space left on device"), "the error names the file: {stderr}");
    let recorded = entries(&cwd).len();

    // Space again: the same command repairs the ledger's tail and resumes.
    std::fs::remove_file(&filler).unwrap();
    let output = super::run(loop_command(&cwd, model.base_url(), &tasks, &harness)).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let torn = std::fs::read_to_string(cwd.join(".self-harness/ledger.jsonl.torn")).ok();
    eprintln!(
        "disk full after {recorded} ledger lines; the torn line moved aside: {}; resumed to the end",
        torn.as_deref().map_or("none (the write stopped at a line's end)".into(), |t| format!("{} bytes", t.len()))
    );
    let entries = entries(&cwd);
    assert_consistent(&entries);
    assert!(entries.len() > recorded);
    assert!(std::fs::read_to_string(harness.join("system.md")).unwrap().contains(FIX));
    assert_no_container_left().await;
    drop(small);
}
