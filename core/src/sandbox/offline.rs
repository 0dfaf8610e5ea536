//! Telling "this needs something this machine cannot reach" apart from a real failure.
//!
//! Only the package registries are reachable here. A task whose build clones from GitHub,
//! or whose tests download a model, fails for that reason alone, and a person reading a
//! summary needs to see that at a glance instead of another build error. The signs are
//! the messages the usual tools print when a host does not resolve or answer (curl, git,
//! wget, ssh, pip and Python, npm, Go, Docker's own `ADD`), apt's message for a pinned
//! version the mirror no longer carries (such a task fails against the real image too), and
//! the Ubuntu stand-in's note on a pin it had to replace (a failure after it may be ours).

use std::sync::LazyLock;

use regex::Regex;

/// Hosts the local images answer for, so that failing to reach them changes nothing: the
/// uv installer's host, whose `curl … | sh` the base image makes unnecessary (see
/// [`super::base`]).
const ANSWERED_HOSTS: &[&str] = &["astral.sh"];

/// What a log says could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// A host that could not be reached.
    Host(String),
    /// A package version that the mirror no longer serves: `package=version`.
    StalePin(String),
    /// An Ubuntu pin the Debian stand-in replaced, or could not (`package=version`, and the
    /// stand-in's note).
    UbuntuPin { pin: String, note: String },
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Host(host) => write!(f, "needs {host}, which cannot be reached from here"),
            Unavailable::StalePin(pin) => {
                write!(f, "pins {pin}, which the mirror no longer serves (the real image fails too)")
            }
            Unavailable::UbuntuPin { note, .. } => {
                write!(f, "pins an Ubuntu package version that Debian's stand-in for Ubuntu lacks ({note})")
            }
        }
    }
}

static HOST_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // curl, git over https
        r"Could not resolve host: ([A-Za-z0-9.-]+)",
        // ssh (git@github.com:…)
        r"Could not resolve hostname ([A-Za-z0-9.-]+)",
        // wget, with plain or typographic quotes
        r"unable to resolve host address ['‘]([A-Za-z0-9.-]+)['’]",
        // urllib3 / requests / pip
        r"Failed to resolve '([A-Za-z0-9.-]+)'",
        r"HTTPS?ConnectionPool\(host='([A-Za-z0-9.-]+)', port=\d+\): Max retries exceeded with url: [^\n]*(?:NameResolutionError|Name or service not known|Temporary failure in name resolution|Failed to establish a new connection)",
        // npm, node
        r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([A-Za-z0-9.-]+)",
        // Go, Docker's ADD <url>
        r"dial tcp: lookup ([A-Za-z0-9.-]+)(?: on [^:]+:\d+)?: (?:no such host|server misbehaving)",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid pattern"))
    .collect()
});

/// A bare resolver error, with the URL the same line or an earlier one asked for.
static BARE_RESOLVER_ERROR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Name or service not known|Temporary failure in name resolution").expect("valid"));
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"https?://([A-Za-z0-9.-]+)").expect("valid"));

static APT_STALE_PIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"E: Version '([^']+)' for '([^']+)' was not found").expect("valid"));

/// The Ubuntu stand-in's note (see [`super::ubuntu`]), which begins with the pin.
static UBUNTU_PIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?m){}(([^\s=]+=\S+)[^\n]*)", regex::escape(super::ubuntu::NOTE_PREFIX))).expect("valid")
});

/// The first thing `log` shows could not be had, ignoring hosts the images answer for.
pub fn unavailable(log: &str) -> Option<Unavailable> {
    let answered = |host: &str| ANSWERED_HOSTS.iter().any(|a| host == *a || host.ends_with(&format!(".{a}")));
    let mut found: Vec<(usize, Unavailable)> = HOST_PATTERNS
        .iter()
        .filter_map(|pattern| pattern.captures_iter(log).find(|c| !answered(&c[1])))
        .map(|c| (c.get(0).map_or(0, |m| m.start()), Unavailable::Host(c[1].to_string())))
        .collect();
    if found.is_empty() {
        let bare = BARE_RESOLVER_ERROR.find_iter(log).find_map(|error| {
            let host = URL_HOST.captures_iter(&log[..error.end()]).last()?[1].to_string();
            (!answered(&host)).then(|| (error.start(), Unavailable::Host(host)))
        });
        found.extend(bare);
    }
    if let Some(c) = APT_STALE_PIN.captures(log) {
        found.push((c.get(0).map_or(0, |m| m.start()), Unavailable::StalePin(format!("{}={}", &c[2], &c[1]))));
    }
    if let Some(c) = UBUNTU_PIN.captures(log) {
        let (pin, note) = (c[2].to_string(), c[1].trim_end().to_string());
        found.push((c.get(0).map_or(0, |m| m.start()), Unavailable::UbuntuPin { pin, note }));
    }
    found.into_iter().min_by_key(|(at, _)| *at).map(|(_, what)| what)
}

/// An error message, led by what it shows could not be had (if anything).
pub fn explain(error: &str) -> String {
    match unavailable(error) {
        Some(what) => format!("{what}; {error}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(log: &str) -> Option<String> {
        match unavailable(log) {
            Some(Unavailable::Host(h)) => Some(h),
            _ => None,
        }
    }

    #[test]
    fn what_the_usual_tools_print_names_the_host() {
        // Each line as printed by the tool inside a container on this machine, or (npm, Go)
        // as the tool's source prints it.
        for (log, expected) in [
            ("curl: (6) Could not resolve host: raw.githubusercontent.com", "raw.githubusercontent.com"),
            ("fatal: unable to access 'https://github.com/foo/bar/': Could not resolve host: github.com", "github.com"),
            ("ssh: Could not resolve hostname gitlab.com: Name or service not known", "gitlab.com"),
            ("wget: unable to resolve host address ‘huggingface.co’", "huggingface.co"),
            ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /x (Caused by NameResolutionError(\"Failed to resolve 'huggingface.co'\"))", "huggingface.co"),
            ("npm error getaddrinfo ENOTFOUND registry.example.com", "registry.example.com"),
            ("ADD failed: Get \"https://example.org/f.tgz\": dial tcp: lookup example.org on 10.0.0.2:53: no such host", "example.org"),
            ("fetching https://data.example.net/x.csv\nurllib.error.URLError: <urlopen error [Errno -2] Name or service not known>", "data.example.net"),
        ] {
            assert_eq!(host(log).as_deref(), Some(expected), "{log}");
        }
    }

    #[test]
    fn the_uv_installer_the_images_answer_for_is_not_a_need() {
        let log = "curl: (6) Could not resolve host: astral.sh\n============ 3 passed in 0.2s ============";
        assert_eq!(unavailable(log), None);
        let both = "curl: (6) Could not resolve host: astral.sh\ncurl: (6) Could not resolve host: github.com";
        assert_eq!(host(both).as_deref(), Some("github.com"));
    }

    #[test]
    fn a_pinned_version_gone_from_the_mirror_is_named() {
        let log = "E: Version '20250419' for 'ca-certificates' was not found\nE: Version '1.22.21' for 'dpkg-dev' was not found";
        assert_eq!(unavailable(log), Some(Unavailable::StalePin("ca-certificates=20250419".into())));
    }

    #[test]
    fn an_ubuntu_pin_the_stand_in_replaced_or_lacks_is_named() {
        let log = "self-harness stand-in: texlive-latex-base=2023.20240207-1 is not a version Debian carries; \
                   installing Debian's texlive-latex-base 2024.20250309-3 instead\nE: Sub-process returned an error code";
        let Some(Unavailable::UbuntuPin { pin, note }) = unavailable(log) else { panic!("{log}") };
        assert_eq!(pin, "texlive-latex-base=2023.20240207-1");
        assert!(note.ends_with("2024.20250309-3 instead"), "{note}");
        let log =
            "self-harness stand-in: ubuntu-pro-client=1:32.3~24.04 is not in Debian's package lists; left as it is\n\
                   E: Unable to locate package ubuntu-pro-client";
        let Some(Unavailable::UbuntuPin { pin, .. }) = unavailable(log) else { panic!("{log}") };
        assert_eq!(pin, "ubuntu-pro-client=1:32.3~24.04", "an epoch is part of the version");
    }

    #[test]
    fn ordinary_failures_are_not_mistaken_for_needs() {
        for log in [
            "E: Unable to locate package libfoo-dev",
            "AssertionError: expected 42, got 41",
            "error: subprocess-exited-with-error",
            "See https://github.com/foo for details\nFAILED test_x",
        ] {
            assert_eq!(unavailable(log), None, "{log}");
        }
    }
}
