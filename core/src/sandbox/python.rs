//! Python stand-ins, made the way the official `python:*` images are made: a Debian base
//! with CPython built from source into `/usr/local` and pip installed by `ensurepip`.
//!
//! That is what task files rely on: `pip install --upgrade pip==25.2` must be able to
//! uninstall pip (Debian's own `python3-pip` refuses: "installed by debian"), `python3`
//! must be the tag's version (a verifier asks `uvx -p 3.11` and downloads are off), and
//! pytest must come from the task, not from the image. No python.org mirror is reachable,
//! so the source is the upstream tarball inside Debian's `python3.X` source package, which
//! the Debian mirror carries for 3.11 (bookworm), 3.13 (trixie) and 3.14 (sid). An image is
//! built the first time a task asks for it (about ten minutes on two cores) and kept; its
//! recipe hash covers the base image and the Dockerfile, so a rebuilt base rebuilds it.

use super::base::{self, BaseImage, Ensured};
use super::{Engine, SandboxError};

/// CPython `version` built on `base`.
pub struct PythonImage {
    pub version: &'static str,
    pub base: &'static BaseImage,
}

/// The Debian suite whose `python3.X` source package holds each CPython version served.
const SOURCE_SUITES: &[(&str, &str)] = &[("3.11", "bookworm"), ("3.13", "trixie"), ("3.14", "sid")];

/// How long building one Python may take: compiling CPython on two cores takes about ten
/// minutes.
const BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

impl PythonImage {
    /// The local tag, e.g. `self-harness/python:3.13-bookworm`.
    pub fn tag(&self) -> String {
        format!("self-harness/python:{}-{}", self.version, self.base.suite)
    }

    /// The suite whose source package provides this version.
    pub fn source_suite(&self) -> &'static str {
        SOURCE_SUITES.iter().find(|(v, _)| *v == self.version).map(|(_, s)| *s).unwrap_or("trixie")
    }

    /// What the image provides, as a person reads it.
    pub fn describe(&self) -> String {
        format!("{} + CPython {} in /usr/local", self.base.release, self.version)
    }

    fn dockerfile(&self, mirror: &str) -> String {
        let (version, suite, base) = (self.version, self.source_suite(), self.base.tag);
        // apt refuses two entries for one suite that are signed by different keyrings: from
        // the base's own suite, the sources use the keyring its `debian.sources` names.
        let options = if suite == self.base.suite {
            "[signed-by=$(sed -n 's/^Signed-By: *//p' /etc/apt/sources.list.d/debian.sources | head -n1)] "
        } else {
            ""
        };
        format!(
            r#"FROM {base}
RUN set -eux; \
    echo "deb-src {options}{mirror} {suite} main" > /etc/apt/sources.list.d/self-harness-python-src.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends dpkg-dev libbz2-dev libexpat1-dev libffi-dev libgdbm-dev \
        liblzma-dev libncurses-dev libreadline-dev libsqlite3-dev libssl-dev uuid-dev zlib1g-dev; \
    mkdir /tmp/python-src; cd /tmp/python-src; \
    apt-get source --download-only python{version}; \
    for archive in python{version}_*.orig.tar.*; do case "$archive" in *.asc) ;; *) tar -xf "$archive" ;; esac; done; \
    cd Python-{version}.*/; \
    ./configure --prefix=/usr/local --enable-shared --enable-loadable-sqlite-extensions --disable-test-modules \
        --with-ensurepip=install LDFLAGS="-Wl,-rpath=/usr/local/lib"; \
    make -j"$(nproc)"; \
    make install; \
    cd /; rm -rf /tmp/python-src /etc/apt/sources.list.d/self-harness-python-src.list; \
    find /usr/local/lib/python{version} -depth -type d \( -name test -o -name tests -o -name idle_test \) -exec rm -rf '{{}}' +; \
    for name in idle3 pip3 pydoc3 python3 python3-config; do ln -sf "$name" "/usr/local/bin/${{name%3}}"; done; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; mkdir -p /var/lib/apt/lists/partial; \
    python --version; pip --version
ENV PYTHON_VERSION={version}
"#
        )
    }
}

/// Builds the image unless an up-to-date one exists. `mirror` is the Debian mirror the
/// source comes from; `log` receives the build output, line by line.
pub async fn ensure(
    engine: &Engine,
    python: &PythonImage,
    mirror: &str,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<Ensured, SandboxError> {
    let tag = python.tag();
    let dockerfile = python.dockerfile(mirror);
    let announce = format!(
        "building the stand-in {tag}: {}, from Debian's {} source (once; about ten minutes on two cores)",
        python.describe(),
        python.source_suite()
    );
    let files = [("Dockerfile", dockerfile.as_str(), 0o644)];
    base::ensure_built_on(engine, python.base, &tag, &files, BUILD_TIMEOUT, &announce, log).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::base::BOOKWORM;

    #[test]
    fn the_dockerfile_builds_the_asked_version_from_the_suite_that_has_it() {
        let python = PythonImage { version: "3.13", base: &BOOKWORM };
        assert_eq!(python.tag(), "self-harness/python:3.13-bookworm");
        let dockerfile = python.dockerfile("http://mirror.example/debian");
        assert!(dockerfile.starts_with("FROM self-harness/base:bookworm\n"));
        assert!(dockerfile.contains("deb-src http://mirror.example/debian trixie main"));
        assert!(dockerfile.contains("apt-get source --download-only python3.13;"));
        assert!(dockerfile.contains("--with-ensurepip=install"));
        assert!(dockerfile.contains("\"/usr/local/bin/${name%3}\""), "{dockerfile}");
        let same_suite = PythonImage { version: "3.11", base: &BOOKWORM };
        assert_eq!(same_suite.source_suite(), "bookworm");
        assert!(same_suite.dockerfile("http://m/debian").contains("deb-src [signed-by=$(sed -n 's/^Signed-By: *//p'"));
    }
}
