//! The stand-ins behave like the registry images they replace, in the ways real task files
//! depend on: the tag's Python in `/usr/local` with a pip that can upgrade itself and no
//! pytest, and the tag's Debian release with its own toolchain. Real containers; the Python
//! stand-ins are built on first use (about ten minutes each on two cores, then cached).

mod common;

use std::time::Duration;

use self_harness::sandbox::image::ImageSpec;
use self_harness::sandbox::{Engine, ExecOptions, Sandbox, SandboxSpec};

/// Builds a one-line task image `FROM image` and starts a sandbox of it, with the internet
/// on (pip needs PyPI).
async fn sandbox_from(image: &str) -> Sandbox {
    let engine = Engine::connect().await.expect("Docker engine reachable (set SELF_HARNESS_SKIP_DOCKER=1 to skip)");
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), format!("FROM {image}\nWORKDIR /app\n")).unwrap();
    let spec = ImageSpec {
        name: format!("standin-{}", image.replace([':', '.'], "-")),
        context: context.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        timeout: Duration::from_secs(300),
    };
    let mut log = |line: &str| eprintln!("{line}");
    let built = engine.ensure_image(&spec, &mut log).await.unwrap_or_else(|e| panic!("{image}: {e}"));
    let spec = SandboxSpec {
        image: built.tag,
        name_hint: "standin-test".into(),
        cpus: Some(1.0),
        memory_bytes: Some(1 << 30),
        storage_bytes: None,
        pids_limit: 512,
        allow_internet: true,
        lifetime: Duration::from_secs(600),
    };
    engine.start_sandbox(&spec).await.unwrap_or_else(|e| panic!("{e}\n(run `self-harness images build` first)"))
}

async fn sh(sandbox: &Sandbox, command: &str) -> String {
    let out = sandbox.exec(command, &ExecOptions::with_timeout(Duration::from_secs(300))).await.unwrap();
    assert_eq!(out.exit_code, Some(0), "`{command}` failed:\n{}", out.output);
    out.output
}

#[tokio::test]
async fn python_3_11_slim_has_its_own_python_and_a_pip_that_upgrades_itself() {
    if !common::docker_available() {
        return;
    }
    let sandbox = sandbox_from("python:3.11-slim").await;
    let version = sh(&sandbox, "python3 --version; python --version").await;
    assert_eq!(version.matches("Python 3.11.").count(), 2, "{version}");
    let pip = sh(&sandbox, "pip --version").await;
    assert!(pip.contains("/usr/local/lib/python3.11/site-packages/pip"), "pip from ensurepip: {pip}");
    let no_pytest =
        sandbox.exec("python3 -c 'import pytest'", &ExecOptions::with_timeout(Duration::from_secs(30))).await;
    assert_eq!(no_pytest.unwrap().exit_code, Some(1), "pytest comes from the task, not the image");
    // What failed on Debian's pip: "Cannot uninstall pip … installed by debian".
    let upgraded = sh(&sandbox, "python3 -m pip install --quiet --upgrade pip==25.2 && pip --version").await;
    assert!(upgraded.contains("pip 25.2"), "{upgraded}");
    // `uvx -p 3.11` finds it with downloads off.
    sh(&sandbox, "uv python find 3.11").await;
    sandbox.remove().await;
}

#[tokio::test]
async fn python_3_13_slim_bookworm_has_bookworms_toolchain() {
    if !common::docker_available() {
        return;
    }
    let sandbox = sandbox_from("python:3.13-slim-bookworm").await;
    let version = sh(&sandbox, "python3 --version").await;
    assert!(version.contains("Python 3.13."), "{version}");
    let release = sh(&sandbox, ". /etc/os-release; echo $VERSION_CODENAME; gcc -dumpversion; openssl version").await;
    assert!(release.starts_with("bookworm\n12\nOpenSSL 3.0."), "{release}");
    // OpenSSL 3.0 prints `CN = x` (3.5 prints `CN=x`), which openssl-selfsigned-cert reads.
    let subject = sh(
        &sandbox,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout /tmp/k -out /tmp/c -days 1 -subj /CN=example.local 2>/dev/null \
         && openssl x509 -in /tmp/c -noout -subject",
    )
    .await;
    assert_eq!(subject.trim(), "subject=CN = example.local");
    sandbox.remove().await;
}
