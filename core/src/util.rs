//! Small helpers shared by several modules.

/// Serializes a `Duration` as fractional seconds, the unit people read in tables and JSON.
pub mod serde_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = <f64 as serde::Deserialize>::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Writes a file so that readers see either the old or the new content, never a part:
/// write to a temporary file beside it, then rename over.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let written = tempfile::NamedTempFile::new_in(dir).and_then(|mut file| {
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)
    });
    written.map(drop).map_err(|e| naming(path, e))
}

/// A place where a crash would hurt most: between writing a record and the next. With
/// `SELF_HARNESS_CRASH_AT=N:TEXT`, the N-th point this process reaches whose description
/// contains TEXT (any, when empty) kills it with SIGKILL, after saying which on stderr, as
/// a crash there would; that is how the chaos suite (`tests/chaos`) kills the loop at
/// seeded points of every stage. Unset, it costs a load.
pub fn crash_point(what: &dyn std::fmt::Display) {
    static AT: std::sync::OnceLock<Option<(u64, String)>> = std::sync::OnceLock::new();
    static REACHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        let spec = std::env::var("SELF_HARNESS_CRASH_AT").ok()?;
        let (n, text) = spec.split_once(':').unwrap_or((&spec, ""));
        Some((n.parse().ok()?, text.to_string()))
    });
    if let Some((at, text)) = at {
        let what = what.to_string();
        if !what.contains(text.as_str()) {
            return;
        }
        let n = REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == *at {
            eprintln!("crash point {n}: {what}");
            // SAFETY: kill(2) on this process's own id; it does not return.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}

/// `e` with the file it happened to in front ("…/ledger.jsonl: No space left on device"):
/// an error that reaches a person must say where.
pub fn naming(path: &std::path::Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Appends one JSON value as a line, synced before returning: an append-only log that a
/// crash can only cut at its last line.
pub fn append_json_line<T: serde::Serialize>(path: &std::path::Path, value: &T) -> std::io::Result<()> {
    append_json_lines(path, std::slice::from_ref(value))
}

/// Appends JSON values as lines in one write, synced: a kill cannot record some without the
/// others (a power loss can still cut the last line, which [`repair_torn_tail`] sets aside).
pub fn append_json_lines<T: serde::Serialize>(path: &std::path::Path, values: &[T]) -> std::io::Result<()> {
    append_lines(path, values).map_err(|e| naming(path, e))
}

fn append_lines<T: serde::Serialize>(path: &std::path::Path, values: &[T]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = Vec::new();
    for value in values {
        serde_json::to_writer(&mut line, value)?;
        line.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    // Appenders (the loop, the editor's jobs) take turns, so that a repair never cuts a
    // line another process is still writing; readers do not wait (they skip a torn tail).
    file.lock()?;
    repair_torn_tail(path)?;
    crash_point(&format_args!("before appending to {}", path.display()));
    file.write_all(&line)?;
    file.sync_data()?;
    crash_point(&format_args!("after appending to {}", path.display()));
    Ok(())
}

/// Where [`repair_torn_tail`] moves a torn last line of `path`: `ledger.jsonl.torn`.
pub fn torn_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".torn");
    path.with_file_name(name)
}

/// Makes a JSON Lines file end with a whole line again: a last line cut off by a crash
/// (no newline after it) is appended to [`torn_path`] and cut from the file, so that the
/// next line appended is not glued onto it. Returns the file it was moved to, if any.
pub fn repair_torn_tail(path: &std::path::Path) -> std::io::Result<Option<std::path::PathBuf>> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(None);
    }
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut text)?;
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let aside = torn_path(path);
    let mut torn = std::fs::OpenOptions::new().create(true).append(true).open(&aside)?;
    torn.write_all(&text[keep..])?;
    torn.write_all(b"\n")?;
    torn.sync_data()?;
    file.set_len(keep as u64)?;
    file.sync_data()?;
    Ok(Some(aside))
}

/// The values of a JSON Lines file (none when it does not exist), and whether its last
/// line was torn (cut off by a crash, skipped). Any other bad line is an error naming it.
pub fn read_json_lines<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<(Vec<T>, bool), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    let (mut values, mut torn) = (Vec::new(), false);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(value) => values.push(value),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => torn = true,
            Err(e) => return Err(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    Ok((values, torn))
}

/// True when `path` exists and, links resolved, lies inside the folder `root`.
pub fn lies_inside(path: &std::path::Path, root: &std::path::Path) -> bool {
    match (path.canonicalize(), root.canonicalize()) {
        (Ok(real), Ok(root)) => real.starts_with(root),
        _ => false,
    }
}

/// `dir/relative`, when `relative` is a plain relative path (no `..`, not absolute) that,
/// links resolved, stays inside `dir`; else an error that names it.
pub fn join_inside(dir: &std::path::Path, relative: &str) -> Result<std::path::PathBuf, String> {
    let plain = std::path::Path::new(relative).components().all(|c| matches!(c, std::path::Component::Normal(_)));
    let path = dir.join(relative);
    // A file that does not exist yet (one a proposal creates) cannot lead anywhere.
    let escapes = path.exists() && !lies_inside(&path, dir);
    if !plain || relative.is_empty() || escapes {
        return Err(format!("\"{relative}\" is not a file inside {}", dir.display()));
    }
    Ok(path)
}

/// A fresh, uniquely named folder beside `to` (removed when dropped), to fill and then
/// rename to `to` in one step: a crash or another process never sees `to` half filled,
/// and two jobs filling the same `to` never write into one folder.
pub fn scratch_beside(to: &std::path::Path) -> std::io::Result<tempfile::TempDir> {
    let parent = to.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".scratch").tempdir_in(parent)
}

/// Copies a folder (not its `.git`), replacing `to` if it exists. Links are copied as
/// links, never followed, so no file outside `from` is read.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(std::io::Error::other)?;
        let relative = entry.path().strip_prefix(from).map_err(std::io::Error::other)?;
        if relative.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if entry.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// An advisory, exclusive lock on a file (`flock`), held until dropped. The kernel releases
/// it when its holder dies, so a crash never leaves anything locked; the file itself holds
/// one line saying who holds it, for the message of whoever finds it taken.
#[derive(Debug)]
pub struct FileLock {
    file: std::fs::File,
}

impl FileLock {
    /// The lock on `path` (created if needed) for `holder` (e.g. "the loop"), or `None`
    /// when another process holds it.
    pub fn try_acquire(path: &std::path::Path, holder: &str) -> std::io::Result<Option<FileLock>> {
        let file = Self::open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self::held(file, holder))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The lock on `path`, waiting for it without blocking the async executor; `waiting` is
    /// called once if it has to wait.
    pub async fn acquire(path: &std::path::Path, holder: &str, waiting: impl FnOnce()) -> std::io::Result<FileLock> {
        let mut waiting = Some(waiting);
        loop {
            if let Some(lock) = Self::try_acquire(path, holder)? {
                return Ok(lock);
            }
            if let Some(say) = waiting.take() {
                say();
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// The lock on `path`, blocking this thread until it is free: for short critical
    /// sections (a read-modify-write of one file).
    pub fn acquire_blocking(path: &std::path::Path, holder: &str) -> std::io::Result<FileLock> {
        let file = Self::open(path)?;
        file.lock()?;
        Ok(Self::held(file, holder))
    }

    /// Who holds (or last held) the lock on `path`, as its holder wrote it.
    pub fn holder(path: &std::path::Path) -> Option<String> {
        std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    fn open(path: &std::path::Path) -> std::io::Result<std::fs::File> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(path)
    }

    fn held(file: std::fs::File, holder: &str) -> FileLock {
        use std::io::Write;
        let since = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let line = format!("{holder} (pid {}, since {since})\n", std::process::id());
        // Only a courtesy for messages: the lock holds whether or not this is written.
        let _ = file.set_len(0).and_then(|()| (&file).write_all(line.as_bytes()));
        FileLock { file }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Now, as RFC 3339 in UTC to the second (`2026-12-03T10:15:00Z`), as traces record times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_names_its_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/loop.lock");
        let held = FileLock::try_acquire(&path, "the loop").unwrap().expect("free at first");
        // A second open file description, as another process would have: refused.
        assert!(FileLock::try_acquire(&path, "another loop").unwrap().is_none());
        let holder = FileLock::holder(&path).unwrap();
        assert!(holder.starts_with(&format!("the loop (pid {}, since ", std::process::id())), "{holder}");
        drop(held);
        assert!(FileLock::try_acquire(&path, "another loop").unwrap().is_some());
    }

    #[test]
    fn appends_in_one_write_and_a_scratch_folder_is_unique() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        append_json_lines(&path, &[1, 2]).unwrap();
        append_json_line(&path, &3).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n3\n");
        let to = dir.path().join("candidates/w-1");
        let (a, b) = (scratch_beside(&to).unwrap(), scratch_beside(&to).unwrap());
        assert_ne!(a.path(), b.path());
        assert_eq!(a.path().parent(), to.parent());
        assert!(!to.exists());
    }
}
