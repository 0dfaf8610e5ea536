//! The sandbox against a real Docker engine: exec semantics, hard timeouts, output caps,
//! file exchange, limits and clean-up. Needs the base images (`self-harness images build`).

mod common;

use std::time::Duration;

use self_harness::sandbox::base::TRIXIE;
use self_harness::sandbox::{Engine, ExecOptions, Sandbox, SandboxSpec};

fn sandbox_spec(allow_internet: bool) -> SandboxSpec {
    SandboxSpec {
        image: TRIXIE.tag.to_string(),
        name_hint: "sandbox-test".into(),
        cpus: Some(1.0),
        memory_bytes: Some(256 << 20),
        storage_bytes: None,
        pids_limit: 256,
        allow_internet,
        lifetime: Duration::from_secs(300),
    }
}

async fn sandbox(allow_internet: bool) -> (Engine, Sandbox) {
    let engine = Engine::connect().await.expect("Docker engine reachable (set SELF_HARNESS_SKIP_DOCKER=1 to skip)");
    let spec = sandbox_spec(allow_internet);
    let sandbox =
        engine.start_sandbox(&spec).await.unwrap_or_else(|e| panic!("{e}\n(run `self-harness images build` first)"));
    (engine, sandbox)
}

#[tokio::test]
async fn exec_reports_exit_code_and_interleaved_output() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let options = ExecOptions {
        env: vec![("GREETING".into(), "hi there".into())],
        ..ExecOptions::with_timeout(Duration::from_secs(30))
    };
    let out = sandbox.exec("echo \"$GREETING\"; echo oops >&2; exit 7", &options).await.unwrap();
    assert_eq!(out.exit_code, Some(7));
    assert!(!out.timed_out);
    assert!(out.output.contains("hi there") && out.output.contains("oops"), "{:?}", out.output);

    let out = sandbox.exec("[[ 1 == 1 ]] && echo bash-syntax", &options).await.unwrap();
    assert_eq!(out.output.trim(), "bash-syntax", "commands run under bash");
    sandbox.remove().await;
}

#[tokio::test]
async fn a_timed_out_command_and_its_background_children_are_killed() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let out = sandbox
        .exec("echo started; sleep 3011 & sleep 3012; echo never", &ExecOptions::with_timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    assert!(out.output.contains("started") && !out.output.contains("never"), "{:?}", out.output);
    // Stopped at its timeout, not after the 300 s sleep.
    assert!(out.duration < Duration::from_secs(60), "{:?}", out.duration);

    let ps = sandbox.exec("ps -eo args", &ExecOptions::with_timeout(Duration::from_secs(30))).await.unwrap();
    assert!(!ps.output.contains("sleep 301"), "sleeps survived the timeout:\n{}", ps.output);
    sandbox.remove().await;
}

#[tokio::test]
async fn long_output_is_capped_but_counted() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let options = ExecOptions { output_limit: 1000, ..ExecOptions::with_timeout(Duration::from_secs(60)) };
    let out = sandbox.exec("seq 1 2000000", &options).await.unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert!(out.output_bytes > 14_000_000, "{}", out.output_bytes);
    assert!(out.output.len() < 1200, "{}", out.output.len());
    assert!(out.output.starts_with("1\n2\n3\n") && out.output.trim_end().ends_with("2000000"), "{:?}", out.output);
    sandbox.remove().await;
}

#[tokio::test]
async fn a_flood_of_output_stops_at_its_cap_instead_of_filling_the_disk() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    // `yes` writes gigabytes a second: uncapped, a command timeout's worth fills the host.
    let options = ExecOptions { output_limit: 1000, ..ExecOptions::with_timeout(Duration::from_secs(60)) };
    let out = sandbox.exec("yes", &options).await.unwrap();
    assert!(!out.timed_out, "stopped by the cap, not the timeout");
    assert_ne!(out.exit_code, Some(0), "its writes failed: no room left");
    // The sandbox's memory is 256 MiB: the cap is a quarter of it.
    assert!(out.output_bytes <= 64 << 20 && out.output_bytes > 1 << 20, "{} bytes", out.output_bytes);
    let next = sandbox.exec("echo next", &ExecOptions::with_timeout(Duration::from_secs(30))).await.unwrap();
    assert_eq!(next.output, "next\n", "the room is free again for the next command");
    sandbox.remove().await;
}

#[tokio::test]
async fn files_go_in_and_come_out() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/data.txt"), "héllo\n").unwrap();
    std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(dir.path().join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    sandbox.upload(dir.path(), "/deep/new/folder").await.unwrap();
    let out = sandbox
        .exec("/deep/new/folder/run.sh && cat /deep/new/folder/sub/data.txt", &ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(out.output, "ran\nhéllo\n");

    sandbox.write_file("/etc/self-harness-note", b"note", 0o600).await.unwrap();
    assert_eq!(sandbox.read_file("/etc/self-harness-note").await.unwrap().as_deref(), Some(&b"note"[..]));
    assert_eq!(sandbox.read_file("/no/such/file").await.unwrap(), None);
    sandbox.remove().await;
}

#[tokio::test]
async fn limits_apply_and_no_network_means_no_network() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let options = ExecOptions::with_timeout(Duration::from_secs(30));
    let mem = sandbox
        .exec("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes", &options)
        .await
        .unwrap();
    assert_eq!(mem.output.trim(), (256u64 << 20).to_string());
    let net = sandbox.exec("ls /sys/class/net", &options).await.unwrap();
    assert_eq!(net.output.split_whitespace().collect::<Vec<_>>(), vec!["lo"], "only loopback without internet");
    sandbox.remove().await;
}

#[tokio::test]
async fn removed_and_dropped_sandboxes_leave_no_container() {
    if !common::docker_available() {
        return;
    }
    let (engine, sandbox) = sandbox(false).await;
    let id = sandbox.id().to_string();
    sandbox.remove().await;
    assert!(!common::managed_containers(None).iter().any(|c| id.starts_with(c.as_str())));

    // A sandbox dropped on an error path is removed in the background.
    let spec = SandboxSpec {
        image: TRIXIE.tag.to_string(),
        name_hint: "dropped".into(),
        cpus: None,
        memory_bytes: None,
        storage_bytes: None,
        pids_limit: 64,
        allow_internet: false,
        lifetime: Duration::from_secs(300),
    };
    let dropped = engine.start_sandbox(&spec).await.unwrap();
    let id = dropped.id().to_string();
    drop(dropped);
    for _ in 0..100 {
        if !common::managed_containers(None).iter().any(|c| id.starts_with(c.as_str())) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("dropped sandbox {id} was not removed");
}

#[tokio::test]
async fn a_start_cancelled_at_any_moment_leaves_no_container() {
    if !common::docker_available() {
        return;
    }
    let engine = Engine::connect().await.unwrap();
    let spec = SandboxSpec { name_hint: "cancelled-start".into(), ..sandbox_spec(false) };
    // Dropped before, while and after the engine creates the container, as a cancelled
    // job drops it: one of these lands between "created" and "guarded".
    for delay_ms in [0, 1, 2, 5, 10, 20, 40, 80, 160, 320] {
        let _ = tokio::time::timeout(Duration::from_millis(delay_ms), engine.start_sandbox(&spec)).await;
    }
    let named = || {
        let output = std::process::Command::new("docker")
            .args(["ps", "-a", "--filter", "name=self-harness-cancelled-start-", "--format", "{{.Names}}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).lines().count()
    };
    for _ in 0..200 {
        if named() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} container(s) of cancelled starts remain", named());
}

/// A removal whose caller is dropped while it waits (an editor's job cancelled just as an
/// episode ends) still removes the container: the guard, already marked removed, would not.
/// This is what made `a_cancelled_validation_stops_and_leaves_no_container` flaky.
#[tokio::test]
async fn a_removal_cancelled_while_it_waits_still_removes_the_container() {
    if !common::docker_available() {
        return;
    }
    let engine = Engine::connect().await.unwrap();
    let spec = SandboxSpec { name_hint: "cancelled-removal".into(), ..sandbox_spec(false) };
    let sandbox = engine.start_sandbox(&spec).await.unwrap();
    let id = sandbox.id().to_string();
    // Polled once, then dropped, as a cancelled job's future is.
    tokio::select! {
        biased;
        _ = sandbox.remove() => panic!("a removal does not finish in one poll"),
        _ = std::future::ready(()) => {}
    }
    for _ in 0..300 {
        if !common::managed_containers(None).iter().any(|c| id.starts_with(c.as_str())) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the container {id} of a cancelled removal remains");
}

#[tokio::test]
async fn exec_in_a_dead_container_is_a_clear_error() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    std::process::Command::new("docker").args(["rm", "-f", sandbox.id()]).output().unwrap();
    let error = sandbox.exec("true", &ExecOptions::default()).await.unwrap_err();
    assert!(error.to_string().contains("is gone"), "{error}");
}

#[tokio::test]
async fn a_cancelled_exec_does_not_confuse_the_next_one() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    // Dropped mid-flight (as a Ctrl-C or a select! would), without a timeout of its own.
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), sandbox.exec("sleep 2; echo late", &ExecOptions::default()))
            .await;
    assert!(cancelled.is_err());
    let out = sandbox.exec("echo next; cat", &ExecOptions::with_timeout(Duration::from_secs(30))).await.unwrap();
    assert_eq!((out.exit_code, out.output.as_str()), (Some(0), "next\n"), "stdin is empty, replies stay in step");
    sandbox.remove().await;
}

/// A background job keeps writing to (and truncating) the output file of the command that
/// started it while replies are framed: every later reply must still be exactly its own.
#[tokio::test]
async fn background_output_never_leaks_into_the_next_reply() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let shell = sandbox.shell("agent");
    let t = Duration::from_secs(30);
    let writer = "(for i in $(seq 1 400000); do echo noise-$i; done) & \
                  (for i in $(seq 1 3000); do : > /proc/self/fd/1; echo cut; done) & echo started";
    let out = shell.run(writer, t, 64).await.unwrap();
    assert_eq!(out.exit_code, Some(0));
    for n in 0..60 {
        let out = shell.run(&format!("echo reply-{n}"), t, 10_000).await.unwrap();
        assert_eq!((out.exit_code, out.output.as_str()), (Some(0), format!("reply-{n}\n").as_str()));
    }
    sandbox.remove().await;
}

#[tokio::test]
async fn a_shell_session_keeps_directory_variables_functions_and_jobs() {
    if !common::docker_available() {
        return;
    }
    let (_engine, sandbox) = sandbox(false).await;
    let shell = sandbox.shell("agent");
    let t = Duration::from_secs(30);
    let run = |cmd: &'static str| {
        let shell = &shell;
        async move { shell.run(cmd, t, 10_000).await.unwrap() }
    };
    run("mkdir -p /work/a && cd /work/a && export GREETING='hi there' && COUNT=3 && greet() { echo \"$GREETING x$COUNT\"; }").await;
    run("alias ll='ls -la'; sleep 600 &").await;
    let out = run("pwd; greet; echo \"multi\nline\" > m; cat m | wc -l; alias ll").await;
    assert_eq!(out.output, "/work/a\nhi there x3\n2\nalias ll='ls -la'\n", "{:?}", out.output);
    let jobs = run("ps -eo args | grep -c '^sleep 600'").await;
    assert_eq!(jobs.output.trim(), "1", "the background job keeps running");

    // `exit` ends the command, not the session; a timed-out command leaves the state as it was.
    let out = run("cd /tmp; exit 4").await;
    assert_eq!(out.exit_code, Some(4));
    assert_eq!(run("pwd").await.output, "/tmp\n");
    let out = shell.run("cd /; sleep 100", Duration::from_secs(1), 10_000).await.unwrap();
    assert!(out.timed_out);
    assert_eq!(run("pwd").await.output, "/tmp\n");

    // Sessions are independent.
    assert_eq!(sandbox.shell("other").run("pwd", t, 1000).await.unwrap().output, "/\n");

    // The shell speaks as `bash -c COMMAND` does: no runner's script file, and line numbers
    // counted in the command itself.
    let out = run("true\nno-such-program --help; cd /no/such/dir").await;
    assert_eq!(
        out.output,
        "bash: line 2: no-such-program: command not found\nbash: line 2: cd: /no/such/dir: No such file or directory\n",
        "{:?}",
        out.output
    );
    assert_eq!(run("echo $0").await.output, "bash\n");
    sandbox.remove().await;
}

/// A task folder written by a stranger may hold links to the host's secrets; neither an
/// upload (tests, solutions) nor an image build (the environment folder) may follow them.
#[tokio::test]
async fn links_to_host_files_carry_no_host_file_into_a_container() {
    if !common::docker_available() {
        return;
    }
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("id_rsa"), "HOST SECRET\n").unwrap();
    let task = tempfile::tempdir().unwrap();
    std::fs::write(task.path().join("Dockerfile"), "FROM ubuntu:24.04\nCOPY . /ctx\n").unwrap();
    std::fs::write(task.path().join("test.sh"), "echo ok\n").unwrap();
    std::os::unix::fs::symlink(secrets.path(), task.path().join("keys")).unwrap();
    std::os::unix::fs::symlink(secrets.path().join("id_rsa"), task.path().join("key")).unwrap();

    let (engine, sandbox) = sandbox(false).await;
    sandbox.upload(task.path(), "/tests").await.unwrap();
    let spec = self_harness::sandbox::image::ImageSpec {
        name: "links-test".into(),
        context: task.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        timeout: Duration::from_secs(300),
    };
    let image = engine.ensure_image(&spec, &mut |_| {}).await.unwrap();
    let built = engine
        .start_sandbox(&SandboxSpec { image: image.tag, name_hint: "links-test".into(), ..sandbox_spec(false) })
        .await
        .unwrap();
    let t = ExecOptions::with_timeout(Duration::from_secs(30));
    for (sandbox, dir) in [(&sandbox, "/tests"), (&built, "/ctx")] {
        let out = sandbox
            .exec(
                &format!("cat {dir}/test.sh; test -L {dir}/key && echo a link; cat {dir}/key {dir}/keys/id_rsa; grep -r SECRET {dir}"),
                &t,
            )
            .await
            .unwrap();
        // (Where the link points is not compared: Docker's build cache may keep the layer of an
        // earlier run whose link pointed elsewhere.)
        assert!(out.output.starts_with("echo ok\na link\n"), "{}", out.output);
        assert!(!out.output.contains("HOST SECRET"), "a host file reached the container through {dir}: {}", out.output);
    }
    sandbox.remove().await;
    built.remove().await;
}
