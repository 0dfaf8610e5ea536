//! Local base images, built with `debootstrap` and imported, since no registry is reachable.
//!
//! Each [`BaseImage`] is a Debian root with the tools task files and verifiers expect
//! (python3 and pytest, git, curl, tmux, build tools) plus:
//! * `uv`/`uvx` in `/root/.local/bin` with the `env` file the upstream installer writes,
//!   so a verifier's `curl …/uv/install.sh | sh` can fail offline and the `source
//!   $HOME/.local/bin/env; uvx -p 3.13 -w pytest …` that follows still works: this is the
//!   one place where the runner answers for the internet;
//! * the host's CA bundle, wired for pip, uv, curl and node, so that package registries
//!   behind this machine's TLS proxy work inside containers.
//!
//! A recipe hash is stored as a label; an up-to-date image is not rebuilt.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::query_parameters::{CreateImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{standins, Engine, SandboxError};

/// A local base image and how to build it.
pub struct BaseImage {
    /// The local tag, e.g. `self-harness/base:trixie`.
    pub tag: &'static str,
    pub suite: &'static str,
    /// The distribution, as a person names it.
    pub release: &'static str,
    /// The version of Debian's own `python3`.
    pub python: &'static str,
    pub packages: &'static [&'static str],
}

/// What every base image carries: what task files and verifiers expect to find.
const PACKAGES: &[&str] = &[
    "ca-certificates",
    "python3",
    "python3-pip",
    "python3-venv",
    "python-is-python3",
    "python3-pytest",
    "tmux",
    "git",
    "curl",
    "build-essential",
    "procps",
    "less",
    "file",
    "unzip",
    "xz-utils",
];

/// Debian 13, the current stable: serves `ubuntu:*`, `debian:13*` and the `python:*`
/// tags that are built on trixie.
pub const TRIXIE: BaseImage = BaseImage {
    tag: "self-harness/base:trixie",
    suite: "trixie",
    release: "Debian 13 (trixie)",
    python: "3.13",
    packages: PACKAGES,
};

/// Debian 12: its gcc 12 and OpenSSL 3.0 behave as the `*-bookworm` tags expect (trixie's
/// gcc 14 rejects `gets`, its OpenSSL 3.5 prints `CN=x` where 3.0 prints `CN = x`).
pub const BOOKWORM: BaseImage = BaseImage {
    tag: "self-harness/base:bookworm",
    suite: "bookworm",
    release: "Debian 12 (bookworm)",
    python: "3.11",
    packages: PACKAGES,
};

/// Every base image the stand-in table refers to.
pub const BASES: &[&BaseImage] = &[&TRIXIE, &BOOKWORM];

/// The Debian mirror for debootstrap and for the source packages of the Python stand-ins.
pub fn debian_mirror() -> String {
    std::env::var("SELF_HARNESS_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| DEFAULT_DEBIAN_MIRROR.to_string())
}

pub const DEFAULT_DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// The uv release installed into base images (the one Terminal-Bench 2.0 verifiers fetch).
const UV_VERSION: &str = "0.9.5";
/// Where the host CA bundle lives inside the image, untouched by `update-ca-certificates`.
const IMAGE_CA_BUNDLE: &str = "/usr/local/share/self-harness/ca-bundle.crt";
/// Label holding the recipe hash, and label marking images as stand-ins.
pub const RECIPE_LABEL: &str = "dev.self-harness.recipe";
pub const BASE_LABEL: &str = "dev.self-harness.base";
/// Bump when the build steps below change in a way the hash inputs do not show.
const RECIPE_REVISION: &str = "2";

/// Options for [`build`].
pub struct BuildOptions {
    pub force: bool,
    pub mirror: String,
    pub ca_bundle: PathBuf,
    pub work_dir: PathBuf,
}

/// What happened to one base image.
#[derive(Debug, serde::Serialize)]
pub struct BuildReport {
    pub tag: String,
    pub up_to_date: bool,
    pub aliases: Vec<String>,
    pub seconds: f64,
}

impl BaseImage {
    fn env(&self) -> Vec<String> {
        [
            "PATH=/root/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            format!("SSL_CERT_FILE={IMAGE_CA_BUNDLE}"),
            format!("PIP_CERT={IMAGE_CA_BUNDLE}"),
            format!("REQUESTS_CA_BUNDLE={IMAGE_CA_BUNDLE}"),
            format!("NODE_EXTRA_CA_CERTS={IMAGE_CA_BUNDLE}"),
            "UV_NATIVE_TLS=1".into(),
            // Offline, uv must use the system Python 3.13 rather than try to download one.
            "UV_PYTHON_DOWNLOADS=never".into(),
            "PIP_BREAK_SYSTEM_PACKAGES=1".into(),
            "LANG=C.UTF-8".into(),
            "DEBIAN_FRONTEND=noninteractive".into(),
        ]
        .to_vec()
    }

    fn recipe_hash(&self, options: &BuildOptions) -> Result<String, SandboxError> {
        let mut hasher = Sha256::new();
        for part in [RECIPE_REVISION, self.suite, &options.mirror, UV_VERSION] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        for part in self.packages.iter().map(|p| p.to_string()).chain(self.env()) {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hasher.update(std::fs::read(&options.ca_bundle)?);
        Ok(hex::encode(&hasher.finalize()[..8]))
    }
}

/// Builds (or confirms up to date) every base image and tags the stand-in names.
/// `progress` receives one line per step and per debootstrap message.
pub async fn build(
    engine: &Engine,
    options: &BuildOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<BuildReport>, SandboxError> {
    preflight(options)?;
    let mut reports = Vec::new();
    for base in BASES {
        let started = std::time::Instant::now();
        let recipe = base.recipe_hash(options)?;
        let current = engine.docker().inspect_image(base.tag).await.ok();
        let current_recipe =
            current.as_ref().and_then(|i| i.config.as_ref()?.labels.as_ref()?.get(RECIPE_LABEL).cloned());
        let up_to_date = !options.force && current_recipe.as_deref() == Some(recipe.as_str());
        if !up_to_date {
            build_one(engine, base, &recipe, options, progress).await?;
        } else {
            progress(&format!("{} is up to date (recipe {recipe})", base.tag));
        }
        let mut aliases = Vec::new();
        for name in standins::literal_names(base.tag) {
            tag_alias(engine, base.tag, name).await?;
            aliases.push(name.to_string());
        }
        reports.push(BuildReport {
            tag: base.tag.into(),
            up_to_date,
            aliases,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(reports)
}

/// A stand-in built on a base (a Python, the Ubuntu one) made available.
pub struct Ensured {
    pub id: String,
    /// False when an up-to-date image was already there.
    pub built: bool,
}

/// One stand-in build at a time: tasks built in parallel would otherwise each build it.
static DERIVED_BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A stand-in built on `base` (a Python, the Ubuntu one): the image `tag` from the build
/// context `files` (name, text, mode; the `Dockerfile` among them), unless one built from
/// the same base image and files is there (its recipe label says so). `announce` is logged
/// before a build.
pub(super) async fn ensure_built_on(
    engine: &Engine,
    base: &BaseImage,
    tag: &str,
    files: &[(&str, &str, u32)],
    timeout: std::time::Duration,
    announce: &str,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<Ensured, SandboxError> {
    let found = engine
        .docker()
        .inspect_image(base.tag)
        .await
        .map_err(|_| SandboxError::MissingBaseImage { image: tag.to_string(), base: base.tag.to_string() })?;
    let mut hasher = Sha256::new();
    hasher.update(found.id.unwrap_or_default().as_bytes());
    for (_, text, _) in files {
        hasher.update([0]);
        hasher.update(text.as_bytes());
    }
    let recipe = hex::encode(&hasher.finalize()[..8]);

    let _one_at_a_time = DERIVED_BUILD_LOCK.lock().await;
    if let Ok(existing) = engine.docker().inspect_image(tag).await {
        let labels = existing.config.as_ref().and_then(|c| c.labels.as_ref());
        if labels.and_then(|l| l.get(RECIPE_LABEL)) == Some(&recipe) {
            return Ok(Ensured { id: existing.id.unwrap_or_default(), built: false });
        }
    }
    log(announce);
    let labels = std::collections::HashMap::from([
        (RECIPE_LABEL.to_string(), recipe),
        (BASE_LABEL.to_string(), tag.to_string()),
    ]);
    engine.build_image(tag, "Dockerfile", build_context(files)?, &labels, timeout, log).await?;
    let built = engine.docker().inspect_image(tag).await?;
    Ok(Ensured { id: built.id.unwrap_or_default(), built: true })
}

/// A build context of in-memory files (name, text, mode), as the tar the engine expects.
pub(super) fn build_context(files: &[(&str, &str, u32)]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    for (name, text, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        archive.append_data(&mut header, name, text.as_bytes())?;
    }
    archive.into_inner()
}

/// Tags the local image `source` as `name` (e.g. `ubuntu:24.04`).
pub async fn tag_alias(engine: &Engine, source: &str, name: &str) -> Result<(), SandboxError> {
    let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let options = TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
    engine.docker().tag_image(source, Some(options)).await?;
    Ok(())
}

fn preflight(options: &BuildOptions) -> Result<(), SandboxError> {
    let missing = |what: &str| SandboxError::Io(std::io::Error::other(what.to_string()));
    if !which("debootstrap") {
        return Err(missing("debootstrap is not installed: run `apt-get install -y debootstrap` (as root)"));
    }
    if !is_root() {
        return Err(missing("building base images needs root (debootstrap and chroot): run it with sudo"));
    }
    if !options.ca_bundle.is_file() {
        return Err(missing(&format!(
            "CA bundle {} not found: set SELF_HARNESS_CA_BUNDLE to the host's bundle",
            options.ca_bundle.display()
        )));
    }
    Ok(())
}

async fn build_one(
    engine: &Engine,
    base: &BaseImage,
    recipe: &str,
    options: &BuildOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), SandboxError> {
    let root = options.work_dir.join(format!("rootfs-{}-{recipe}", base.suite));
    if root.exists() {
        tokio::fs::remove_dir_all(&root).await?;
    }
    tokio::fs::create_dir_all(&options.work_dir).await?;
    let result = async {
        progress(&format!("debootstrap {} into {}", base.suite, root.display()));
        let include = format!("--include={}", base.packages.join(","));
        let root_arg = root.to_string_lossy().into_owned();
        run_streaming(
            Command::new("debootstrap").args(["--variant=minbase", &include, base.suite, &root_arg, &options.mirror]),
            progress,
        )
        .await?;
        progress("installing uv, the CA bundle and the uv installer's env file");
        provision(&root, &options.ca_bundle, progress).await?;
        write_apt_sources(&root, base.suite, &options.mirror).await?;
        progress(&format!("importing {}", base.tag));
        import(engine, base, recipe, &root).await
    }
    .await;
    // The root is 800 MB; do not leave it behind, whatever happened.
    let _ = tokio::fs::remove_dir_all(&root).await;
    result
}

/// Everything after debootstrap, done in the new root.
async fn provision(root: &Path, ca_bundle: &Path, progress: &(dyn Fn(&str) + Sync)) -> Result<(), SandboxError> {
    let image_ca = root.join(IMAGE_CA_BUNDLE.trim_start_matches('/'));
    tokio::fs::create_dir_all(image_ca.parent().unwrap_or(root)).await?;
    tokio::fs::copy(ca_bundle, &image_ca).await?;
    // Also the system bundle, and a source `update-ca-certificates` keeps when a task
    // reinstalls ca-certificates.
    tokio::fs::copy(ca_bundle, root.join("etc/ssl/certs/ca-certificates.crt")).await?;
    tokio::fs::copy(ca_bundle, root.join("usr/local/share/ca-certificates/self-harness-host.crt")).await?;
    tokio::fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf")).await?;

    let root_arg = root.to_string_lossy().into_owned();
    let mut pip = Command::new("chroot");
    pip.args([&root_arg, "python3", "-m", "pip", "install", "--quiet", "--no-cache-dir", &format!("uv=={UV_VERSION}")])
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("SSL_CERT_FILE", IMAGE_CA_BUNDLE)
        .env("PIP_BREAK_SYSTEM_PACKAGES", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    run_streaming(&mut pip, progress).await?;

    let local_bin = root.join("root/.local/bin");
    tokio::fs::create_dir_all(&local_bin).await?;
    for tool in ["uv", "uvx"] {
        let link = local_bin.join(tool);
        let _ = tokio::fs::remove_file(&link).await;
        tokio::fs::symlink(format!("/usr/local/bin/{tool}"), &link).await?;
    }
    // What uv's installer writes: puts ~/.local/bin on PATH when sourced.
    tokio::fs::write(
        local_bin.join("env"),
        "#!/bin/sh\ncase \":${PATH}:\" in\n    *:\"$HOME/.local/bin\":*) ;;\n    *) export PATH=\"$HOME/.local/bin:$PATH\" ;;\nesac\n",
    )
    .await?;

    run_streaming(Command::new("chroot").args([&root_arg, "apt-get", "clean"]), progress).await?;
    let lists = root.join("var/lib/apt/lists");
    if lists.exists() {
        tokio::fs::remove_dir_all(&lists).await?;
        tokio::fs::create_dir_all(lists.join("partial")).await?;
    }
    // Docker writes the container's own resolv.conf.
    tokio::fs::write(root.join("etc/resolv.conf"), "").await?;
    Ok(())
}

/// The apt sources the official Debian images carry (the suite, its updates and its security
/// archive, in deb822 form) in place of debootstrap's one-line `sources.list`, so that a
/// task installs the same package versions it would get from the real image.
async fn write_apt_sources(root: &Path, suite: &str, mirror: &str) -> Result<(), SandboxError> {
    let keyring = ["pgp", "gpg"]
        .iter()
        .map(|ext| format!("/usr/share/keyrings/debian-archive-keyring.{ext}"))
        .find(|k| root.join(k.trim_start_matches('/')).is_file());
    let signed_by = keyring.map(|k| format!("Signed-By: {k}\n")).unwrap_or_default();
    let mut sources =
        format!("Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: main\n{signed_by}");
    // The security archive sits beside the main one on Debian's own mirrors.
    if let Some(security) = mirror.strip_suffix("/debian").map(|m| format!("{m}/debian-security")) {
        sources.push_str(&format!(
            "\nTypes: deb\nURIs: {security}\nSuites: {suite}-security\nComponents: main\n{signed_by}"
        ));
    }
    tokio::fs::create_dir_all(root.join("etc/apt/sources.list.d")).await?;
    tokio::fs::write(root.join("etc/apt/sources.list.d/debian.sources"), sources).await?;
    let _ = tokio::fs::remove_file(root.join("etc/apt/sources.list")).await;
    Ok(())
}

/// Streams `tar` of the root into the engine's image import.
async fn import(engine: &Engine, base: &BaseImage, recipe: &str, root: &Path) -> Result<(), SandboxError> {
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = tar.stdout.take().ok_or_else(|| std::io::Error::other("tar has no stdout"))?;
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(stdout));

    let mut changes: Vec<String> = base.env().into_iter().map(|e| format!("ENV {e}")).collect();
    changes.push(format!("LABEL {RECIPE_LABEL}={recipe} {BASE_LABEL}={}", base.tag));
    changes.push("CMD [\"bash\"]".into());
    let (repo, tag) = base.tag.rsplit_once(':').unwrap_or((base.tag, "latest"));
    let options = CreateImageOptionsBuilder::default().from_src("-").repo(repo).tag(tag).changes(changes).build();
    let mut stream = engine.docker().create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        item?;
    }
    let status = tar.wait().await?;
    if !status.success() {
        return Err(std::io::Error::other(format!("tar of {} failed: {status}", root.display())).into());
    }
    Ok(())
}

/// Runs a command, passing each output line to `progress`; fails with the last lines.
async fn run_streaming(command: &mut Command, progress: &(dyn Fn(&str) + Sync)) -> Result<(), SandboxError> {
    let program = format!("{:?}", command.as_std().get_program());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| std::io::Error::other(format!("cannot run {program}: {e}")))?;
    let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut lines = tokio_stream_lines(stdout, stderr);
    let mut tail: std::collections::VecDeque<String> = Default::default();
    while let Some(line) = lines.next().await {
        progress(&line);
        tail.push_back(line);
        if tail.len() > 20 {
            tail.pop_front();
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        let tail: Vec<_> = tail.into_iter().collect();
        return Err(std::io::Error::other(format!("{program} failed ({status}):\n  {}", tail.join("\n  "))).into());
    }
    Ok(())
}

/// Merges two line readers into one stream.
fn tokio_stream_lines<R1, R2>(
    a: tokio::io::Lines<R1>,
    b: tokio::io::Lines<R2>,
) -> impl futures_util::Stream<Item = String> + Unpin
where
    R1: tokio::io::AsyncBufRead + Unpin + Send + 'static,
    R2: tokio::io::AsyncBufRead + Unpin + Send + 'static,
{
    let a = futures_util::stream::unfold(a, |mut r| async move { r.next_line().await.ok().flatten().map(|l| (l, r)) });
    let b = futures_util::stream::unfold(b, |mut r| async move { r.next_line().await.ok().flatten().map(|l| (l, r)) });
    Box::pin(futures_util::stream::select(a, b))
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}
