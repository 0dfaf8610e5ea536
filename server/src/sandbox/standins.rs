//! The one table that says which local image serves a registry base image.
//!
//! No registry can be reached, so `FROM ubuntu:24.04` in a task's Dockerfile must be served
//! by an image built here (see [`super::base`]). Task files are never patched: before a
//! task image is built, each `FROM` image it names that matches a pattern below is tagged
//! as an alias of the matching local base image.

use super::base::{BaseImage, TRIXIE};

/// A registry image pattern (`*` matches any run of characters) and the local base
/// image that stands in for it.
pub struct StandIn {
    pub pattern: &'static str,
    pub base: &'static BaseImage,
}

/// Debian trixie serves them all: it has Python 3.13, which the real Terminal-Bench
/// verifiers ask `uvx` for, and the packages Ubuntu 24.04 task files install by name.
pub const STAND_INS: &[StandIn] = &[
    StandIn { pattern: "ubuntu:24.04", base: &TRIXIE },
    StandIn { pattern: "ubuntu:*", base: &TRIXIE },
    StandIn { pattern: "python:3.13-slim-bookworm", base: &TRIXIE },
    StandIn { pattern: "python:3.1?-slim*", base: &TRIXIE },
    StandIn { pattern: "python:3.1?", base: &TRIXIE },
    StandIn { pattern: "debian:trixie*", base: &TRIXIE },
    StandIn { pattern: "debian:*", base: &TRIXIE },
];

/// The stand-in for `image`, if the table has one.
pub fn stand_in_for(image: &str) -> Option<&'static StandIn> {
    let image = normalize(image);
    STAND_INS.iter().find(|s| wildcard_match(s.pattern, &image))
}

/// Names with no wildcard, tagged eagerly when the base images are built.
pub fn literal_names(base: &BaseImage) -> impl Iterator<Item = &'static str> + '_ {
    STAND_INS.iter().filter(move |s| s.base.tag == base.tag && !s.pattern.contains(['*', '?'])).map(|s| s.pattern)
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
        for image in [
            "ubuntu:24.04",
            "ubuntu:22.04",
            "python:3.13-slim-bookworm",
            "python:3.12-slim",
            "debian:bookworm-slim",
            "docker.io/library/ubuntu:24.04",
        ] {
            assert!(stand_in_for(image).is_some(), "{image} has no stand-in");
        }
        for image in ["alpine:3.20", "node:20", "python:2.7", "ghcr.io/x/ubuntu:24.04"] {
            assert!(stand_in_for(image).is_none(), "{image} should have no stand-in");
        }
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
        assert!(wildcard_match("*", ""));
    }
}
