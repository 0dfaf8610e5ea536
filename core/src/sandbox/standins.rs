//! The one table that says which local image serves a registry base image, and how it
//! differs from the real one.
//!
//! No registry can be reached, so `FROM ubuntu:24.04` in a task's Dockerfile must be served
//! by an image built here: a Debian root ([`super::base`]), for `ubuntu:*` one whose apt
//! installs Debian's version of an Ubuntu pin ([`super::ubuntu`]), or, for `python:*`,
//! CPython built on one ([`super::python`]). Task files are never patched: before a task image is built,
//! each `FROM` image it names that matches a pattern below is tagged as an alias of the
//! image that serves it. The first matching row wins.

use super::base::{BaseImage, BOOKWORM, TRIXIE};
use super::python::PythonImage;

/// A registry image pattern (`*` matches any run of characters, `?` one character), the
/// local image that stands in for it, and what is known to differ.
pub struct StandIn {
    pub pattern: &'static str,
    pub serves: Serves,
    /// Differences beyond [`SHARED_DIFFERENCES`].
    pub differences: &'static [&'static str],
}

/// The local image behind a stand-in.
pub enum Serves {
    Base(&'static BaseImage),
    /// The base with the Ubuntu wrapper around apt ([`super::ubuntu`]).
    Ubuntu(&'static BaseImage),
    Python(PythonImage),
}

impl Serves {
    /// The local tag.
    pub fn tag(&self) -> String {
        match self {
            Serves::Base(base) => base.tag.to_string(),
            Serves::Ubuntu(base) => super::ubuntu::tag(base),
            Serves::Python(python) => python.tag(),
        }
    }

    /// What it provides, as a person reads it.
    pub fn describe(&self) -> String {
        match self {
            Serves::Base(base) => format!("{}, Debian's Python {}", base.release, base.python),
            Serves::Ubuntu(base) => format!("{}, Debian's Python {}, apt wrapped", base.release, base.python),
            Serves::Python(python) => python.describe(),
        }
    }
}

/// What every stand-in has that the real images lack.
pub const SHARED_DIFFERENCES: &[&str] = &[
    "preinstalled: Debian's python3 with pytest and pip, uv 0.9.5, git, curl, tmux, build-essential, the host's CA bundle",
];

/// Tags no local image resembles: refused, rather than served by something else.
const NOT_SERVED: &[&str] = &["*alpine*", "*windowsservercore*", "*nanoserver*", "*bullseye*", "*buster*"];

const UBUNTU: &[&str] = &[
    "a Debian 13 root, not Ubuntu: Python 3.13 (Ubuntu 24.04: 3.12), gcc 14 (13), Debian's package names and versions",
    "apt-get and apt install Debian's version of a package pinned to a version Debian lacks, and say so in the build log",
];
const POINT_RELEASE: &[&str] =
    &["the current point release: a version pinned to an older point release (`dpkg-dev=1.22.21`) may be gone"];
const OTHER_DEBIAN: &[&str] = &["a Debian 13 root, whatever release the tag names"];
const NO_312: &[&str] =
    &["CPython 3.13, not 3.12: no 3.12 source can be reached here (Debian carries 3.11, 3.13, 3.14)"];
const NO_310: &[&str] =
    &["CPython 3.11, not 3.10: no 3.10 source can be reached here (Debian carries 3.11, 3.13, 3.14)"];
const PYTHON_BUILD: &[&str] = &["CPython built without --enable-optimizations or LTO: slower than the official build"];
const PYTHON_FROM_SID: &[&str] = &[
    "CPython built without --enable-optimizations or LTO: slower than the official build",
    "the source comes from Debian sid, which only a current mirror serves (here its index has expired and the pool has moved on: the build fails)",
];

const fn base(pattern: &'static str, base: &'static BaseImage, differences: &'static [&'static str]) -> StandIn {
    StandIn { pattern, serves: Serves::Base(base), differences }
}

const fn ubuntu(pattern: &'static str, base: &'static BaseImage) -> StandIn {
    StandIn { pattern, serves: Serves::Ubuntu(base), differences: UBUNTU }
}

const fn python(
    pattern: &'static str,
    version: &'static str,
    base: &'static BaseImage,
    differences: &'static [&'static str],
) -> StandIn {
    StandIn { pattern, serves: Serves::Python(PythonImage { version, base }), differences }
}

pub const STAND_INS: &[StandIn] = &[
    ubuntu("ubuntu:24.04", &TRIXIE),
    ubuntu("ubuntu:*", &TRIXIE),
    base("debian:12.*", &BOOKWORM, POINT_RELEASE),
    base("debian:12*", &BOOKWORM, &[]),
    base("debian:bookworm*", &BOOKWORM, &[]),
    base("debian:13.*", &TRIXIE, POINT_RELEASE),
    base("debian:13*", &TRIXIE, &[]),
    base("debian:trixie*", &TRIXIE, &[]),
    base("debian:*", &TRIXIE, OTHER_DEBIAN),
    python("python:3.11*bookworm", "3.11", &BOOKWORM, PYTHON_BUILD),
    python("python:3.13*bookworm", "3.13", &BOOKWORM, PYTHON_BUILD),
    python("python:3.14*bookworm", "3.14", &BOOKWORM, PYTHON_FROM_SID),
    python("python:3.12*bookworm", "3.13", &BOOKWORM, NO_312),
    python("python:3.10*bookworm", "3.11", &BOOKWORM, NO_310),
    // Without a release in the tag, `python:*` images are built on trixie.
    python("python:3.11*", "3.11", &TRIXIE, PYTHON_BUILD),
    python("python:3.13*", "3.13", &TRIXIE, PYTHON_BUILD),
    python("python:3.14*", "3.14", &TRIXIE, PYTHON_FROM_SID),
    python("python:3.12*", "3.13", &TRIXIE, NO_312),
    python("python:3.10*", "3.11", &TRIXIE, NO_310),
];

/// The stand-in for `image`, if the table has one.
pub fn stand_in_for(image: &str) -> Option<&'static StandIn> {
    let image = normalize(image);
    if NOT_SERVED.iter().any(|p| wildcard_match(p, &image)) {
        return None;
    }
    STAND_INS.iter().find(|s| wildcard_match(s.pattern, &image))
}

/// Every Python stand-in the table names, each once.
pub fn python_images() -> Vec<&'static PythonImage> {
    let mut images: Vec<&'static PythonImage> = Vec::new();
    for s in STAND_INS {
        if let Serves::Python(python) = &s.serves {
            if !images.iter().any(|i| i.tag() == python.tag()) {
                images.push(python);
            }
        }
    }
    images
}

/// Names with no wildcard that the local image `tag` serves, tagged eagerly when it is built.
pub fn literal_names(tag: &str) -> impl Iterator<Item = &'static str> + '_ {
    STAND_INS
        .iter()
        .filter(move |s| s.serves.tag() == tag)
        .filter(|s| !s.pattern.contains(['*', '?']))
        .map(|s| s.pattern)
}

/// `docker.io/library/ubuntu:24.04` and `ubuntu:24.04` are the same image; a missing tag
/// means `latest`.
pub fn normalize(image: &str) -> String {
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let image = image.strip_prefix("library/").unwrap_or(image);
    let has_tag = image.rsplit('/').next().is_some_and(|last| last.contains(':') || last.contains('@'));
    if has_tag {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The images a Dockerfile builds from, in order, skipping references to its own
/// earlier stages (`FROM builder`) and `scratch`.
pub fn from_images(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for line in logical_lines(dockerfile) {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let mut words = words.skip_while(|w| w.starts_with("--"));
        let Some(image) = words.next() else { continue };
        let lower = image.to_ascii_lowercase();
        if lower != "scratch" && !stages.contains(&lower) && !images.iter().any(|i| i == image) {
            images.push(image.to_string());
        }
        if let (Some(as_kw), Some(alias)) = (words.next(), words.next()) {
            if as_kw.eq_ignore_ascii_case("AS") {
                stages.push(alias.to_ascii_lowercase());
            }
        }
    }
    images
}

/// Dockerfile lines with `\` continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') && current.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Glob matching with `*` (any run) and `?` (one character).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_serves_the_images_real_tasks_ask_for() {
        for (image, served_by) in [
            ("ubuntu:24.04", "self-harness/ubuntu:trixie"),
            ("ubuntu:22.04", "self-harness/ubuntu:trixie"),
            ("docker.io/library/ubuntu:24.04", "self-harness/ubuntu:trixie"),
            ("debian:13.0-slim", "self-harness/base:trixie"),
            ("debian:bookworm-slim", "self-harness/base:bookworm"),
            ("python:3.13-slim-bookworm", "self-harness/python:3.13-bookworm"),
            ("python:3.13.5-bookworm", "self-harness/python:3.13-bookworm"),
            ("python:3.11-slim", "self-harness/python:3.11-trixie"),
            ("python:3.11", "self-harness/python:3.11-trixie"),
            ("python:3.14-slim-trixie", "self-harness/python:3.14-trixie"),
            ("python:3.12-slim", "self-harness/python:3.13-trixie"),
        ] {
            let stand_in = stand_in_for(image).unwrap_or_else(|| panic!("{image} has no stand-in"));
            assert_eq!(stand_in.serves.tag(), served_by, "{image}");
        }
        for image in [
            "alpine:3.20",
            "node:20",
            "python:2.7",
            "python:3.13-alpine",
            "python:3.11-slim-bullseye",
            "ghcr.io/x/ubuntu:24.04",
        ] {
            assert!(stand_in_for(image).is_none(), "{image} should have no stand-in");
        }
    }

    #[test]
    fn a_version_the_machine_cannot_provide_is_named_as_a_difference() {
        let stand_in = stand_in_for("python:3.12-slim").unwrap();
        assert!(stand_in.differences.iter().any(|d| d.contains("not 3.12")), "{:?}", stand_in.differences);
    }

    #[test]
    fn normalize_adds_latest_and_strips_docker_hub() {
        assert_eq!(normalize("ubuntu"), "ubuntu:latest");
        assert_eq!(normalize("docker.io/library/ubuntu:24.04"), "ubuntu:24.04");
        assert_eq!(normalize("localhost:5000/img"), "localhost:5000/img:latest");
    }

    #[test]
    fn from_lines_skip_stages_flags_and_comments() {
        let dockerfile = "# FROM commented:1\nFROM --platform=linux/amd64 python:3.13-slim-bookworm AS build\nRUN make \\\n  all\nfrom build\nFROM scratch\nFROM ubuntu:24.04\n";
        assert_eq!(from_images(dockerfile), vec!["python:3.13-slim-bookworm", "ubuntu:24.04"]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("python:3.1?-slim*", "python:3.12-slim-bookworm"));
        assert!(!wildcard_match("python:3.1?-slim*", "python:3.9-slim"));
        assert!(wildcard_match("python:3.13*bookworm", "python:3.13-slim-bookworm"));
        assert!(wildcard_match("*", ""));
    }
}
