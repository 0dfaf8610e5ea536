//! The stand-in for `ubuntu:*`: Debian 13's base image with an `apt-get` that knows it is
//! not Ubuntu.
//!
//! Ubuntu tasks pin Ubuntu's package versions (`texlive-latex-base=2023.20240207-1`). The
//! real image installs them; on a Debian root apt refuses, and the task would fail for a
//! reason that is ours, not its. So the stand-in's `apt-get` and `apt` are a wrapper
//! (`ubuntu_apt.sh`) that installs Debian's version of such a package instead and prints a
//! line saying so. Those lines are the stand-in's notes: kept in the build log, read back by
//! [`notes`], carried on the task image as a label ([`STAND_IN_LABEL`]) so a cached image
//! still says them, and shown in `tasks check`'s detail and `--json` — a change made in the
//! open, never silently. Where even Debian's version cannot be had, the build fails and the
//! note names the pin (see [`super::offline`]).

use std::collections::HashMap;

use super::base::{BaseImage, Ensured};
use super::{Engine, SandboxError};

/// The local tag of the stand-in built on `base`.
pub fn tag(base: &BaseImage) -> String {
    format!("self-harness/ubuntu:{}", base.suite)
}

/// How each of the wrapper's lines begins in a build log.
pub const NOTE_PREFIX: &str = "self-harness stand-in: ";

/// The task image's label holding its build's notes, one per line.
pub const STAND_IN_LABEL: &str = "dev.self-harness.stand-in";

const APT_WRAPPER: &str = include_str!("ubuntu_apt.sh");

const DOCKERFILE: &str = "FROM {base}\nCOPY apt /usr/local/sbin/apt-get\nCOPY apt /usr/local/sbin/apt\n";

const BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The notes in a build log, in order.
pub fn notes(log: &str) -> Vec<String> {
    log.lines().filter_map(|line| line.trim_start().strip_prefix(NOTE_PREFIX)).map(str::to_string).collect()
}

/// Builds the stand-in unless an up-to-date one exists.
pub async fn ensure(
    engine: &Engine,
    base: &BaseImage,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<Ensured, SandboxError> {
    let tag = tag(base);
    let dockerfile = DOCKERFILE.replace("{base}", base.tag);
    let announce =
        format!("building the stand-in {tag}: {} with apt installing Debian's version of an Ubuntu pin", base.release);
    let files = [("Dockerfile", dockerfile.as_str(), 0o644), ("apt", APT_WRAPPER, 0o755)];
    super::base::ensure_built_on(engine, base, &tag, &files, BUILD_TIMEOUT, &announce, log).await
}

/// Labels the freshly built image `tag` with its build's `notes` (a one-line build on top of
/// it, under the same tag), so that a cached image still says what its stand-in changed.
pub async fn label_notes(engine: &Engine, tag: &str, notes: &[String]) -> Result<(), SandboxError> {
    let dockerfile = format!("FROM {tag}\n");
    let context = super::base::build_context(&[("Dockerfile", dockerfile.as_str(), 0o644)])?;
    let labels = HashMap::from([
        (super::reaper::MANAGED_LABEL.to_string(), "true".to_string()),
        (STAND_IN_LABEL.to_string(), notes.join("\n")),
    ]);
    engine.build_image(tag, "Dockerfile", context, &labels, BUILD_TIMEOUT, &mut |_| {}).await
}

/// The notes a task image carries (none for an image built without the wrapper's help).
pub fn labelled_notes(labels: Option<&HashMap<String, String>>) -> Vec<String> {
    labels.and_then(|l| l.get(STAND_IN_LABEL)).map(|n| n.lines().map(str::to_string).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::base::TRIXIE;

    #[test]
    fn notes_are_the_wrappers_lines_and_only_those() {
        let log = "Step 2/3 : RUN apt-get install -y jq=1.7.1-3build1\n ---> Running in 0f\n\
                   self-harness stand-in: jq=1.7.1-3build1 is not a version Debian carries; installing Debian's jq 1.7.1-6 instead\n\
                   Reading package lists...\necho self-harness stand-in is mentioned here\n";
        assert_eq!(
            notes(log),
            vec!["jq=1.7.1-3build1 is not a version Debian carries; installing Debian's jq 1.7.1-6 instead"]
        );
    }

    #[test]
    fn the_wrapper_shadows_both_apt_programs() {
        assert_eq!(tag(&TRIXIE), "self-harness/ubuntu:trixie");
        let dockerfile = DOCKERFILE.replace("{base}", TRIXIE.tag);
        assert!(dockerfile.starts_with("FROM self-harness/base:trixie\n"));
        for program in ["/usr/local/sbin/apt-get", "/usr/local/sbin/apt"] {
            assert!(dockerfile.contains(&format!("COPY apt {program}\n")), "{dockerfile}");
        }
        assert!(APT_WRAPPER.contains(&format!("echo \"{NOTE_PREFIX}$*\"")), "the prefix notes() reads");
    }
}
