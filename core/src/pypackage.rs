//! Files of another project's Python package: installed, a wheel, or an unpacked folder.
//!
//! Some inputs come from Python packages of other projects, read where the user installed
//! them and never copied into this repository: InterCode-ALFA's tasks (`icalfa`),
//! mini-swe-agent's configurations. This module finds such a package by asking the user's
//! Python where it is (`importlib`, without importing it), or opens a wheel or an unpacked
//! folder given by path, and reads files by their path inside the package. A wheel is read
//! into memory, so nothing of it is written anywhere; a folder's files are read only when
//! they lie inside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a package could not be opened or a file in it read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("no Python package `{module}` is installed for {python}{detail}")]
    NotInstalled { module: String, python: String, detail: String },
    #[error("{}: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("{origin} has no file {file}")]
    Missing { origin: String, file: String },
}

/// One package's files, wherever they were found.
#[derive(Debug)]
pub struct Package {
    /// The import name (`icalfa`).
    pub module: String,
    /// The distribution's version from its metadata, when it has any.
    pub version: Option<String>,
    /// Where it was read from, for messages and provenance.
    pub origin: String,
    files: Files,
}

#[derive(Debug)]
enum Files {
    /// The package's folder.
    Folder(PathBuf),
    /// A wheel's files under the package, by their path inside it.
    Wheel(BTreeMap<String, Vec<u8>>),
}

impl Package {
    /// The package `module` (of the distribution `dist`) as installed for `python`.
    pub fn installed(python: &str, dist: &str, module: &str) -> Result<Package, PackageError> {
        const FIND: &str = "import importlib.util, importlib.metadata, json, sys\n\
            spec = importlib.util.find_spec(sys.argv[1])\n\
            where = list(spec.submodule_search_locations or []) if spec else []\n\
            try:\n    version = importlib.metadata.version(sys.argv[2])\n\
            except Exception:\n    version = None\n\
            print(json.dumps({'location': where[0] if where else None, 'version': version}))";
        let not_installed = |detail: String| PackageError::NotInstalled {
            module: module.to_string(),
            python: python.to_string(),
            detail,
        };
        let output = std::process::Command::new(python)
            .args(["-c", FIND, module, dist])
            .output()
            .map_err(|e| not_installed(format!(" ({python} cannot be run: {e})")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(not_installed(format!(" ({})", stderr.lines().last().unwrap_or_default())));
        }
        #[derive(serde::Deserialize)]
        struct Found {
            location: Option<PathBuf>,
            version: Option<String>,
        }
        let found: Found = serde_json::from_slice(&output.stdout)
            .map_err(|e| not_installed(format!(" ({python} answered something else: {e})")))?;
        let location = found.location.ok_or_else(|| not_installed(String::new()))?;
        Ok(Package {
            module: module.into(),
            version: found.version,
            origin: location.display().to_string(),
            files: Files::Folder(location),
        })
    }

    /// A wheel (`*.whl`) or a folder: the package's own folder, or one that holds it (an
    /// unpacked wheel, a `site-packages`).
    pub fn open(path: &Path, dist: &str, module: &str) -> Result<Package, PackageError> {
        let unreadable = |why: String| PackageError::Unreadable { path: path.to_path_buf(), why };
        if path.is_dir() {
            let root = if path.join(module).join("__init__.py").is_file() {
                path.join(module)
            } else if path.join("__init__.py").is_file() {
                path.to_path_buf()
            } else {
                return Err(unreadable(format!(
                    "neither this folder nor a `{module}` folder in it is a Python package"
                )));
            };
            let version = root.parent().and_then(|site| folder_version(site, dist));
            return Ok(Package {
                module: module.into(),
                version,
                origin: root.display().to_string(),
                files: Files::Folder(root),
            });
        }
        let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| unreadable(format!("not a wheel: {e}")))?;
        let prefix = format!("{module}/");
        let mut files = BTreeMap::new();
        let mut version = None;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(|e| unreadable(format!("entry {index}: {e}")))?;
            // Only plain relative names are taken: `..` or an absolute path is skipped.
            let Some(name) = entry.enclosed_name().map(|p| p.to_string_lossy().replace('\\', "/")) else { continue };
            if !entry.is_file() {
                continue;
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| unreadable(format!("{name}: {e}")))?;
            if let Some(relative) = name.strip_prefix(&prefix) {
                files.insert(relative.to_string(), bytes);
            } else if name.ends_with(".dist-info/METADATA") && dist_info_of(&name, dist) {
                version = metadata_version(&String::from_utf8_lossy(&bytes));
            }
        }
        if files.is_empty() {
            return Err(unreadable(format!("this wheel holds no `{module}` package")));
        }
        Ok(Package { module: module.into(), version, origin: path.display().to_string(), files: Files::Wheel(files) })
    }

    /// The bytes of the file at `relative` inside the package (`assets/datasets/x.json`).
    pub fn read(&self, relative: &str) -> Result<Vec<u8>, PackageError> {
        let missing = || PackageError::Missing { origin: self.origin.clone(), file: relative.to_string() };
        match &self.files {
            Files::Wheel(files) => files.get(relative).cloned().ok_or_else(missing),
            Files::Folder(root) => {
                let path = crate::util::join_inside(root, relative).map_err(|_| missing())?;
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
                    Err(e) => Err(PackageError::Unreadable { path, why: e.to_string() }),
                }
            }
        }
    }

    /// The file at `relative` as text (lossy UTF-8).
    pub fn read_text(&self, relative: &str) -> Result<String, PackageError> {
        self.read(relative).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The files directly in the folder `under` (`minisweagent/config` style, relative to
    /// the package), by name, sorted.
    pub fn list(&self, under: &str) -> Vec<String> {
        let under = under.trim_end_matches('/');
        let mut names: Vec<String> = match &self.files {
            Files::Wheel(files) => files
                .keys()
                .filter_map(|k| k.strip_prefix(under)?.strip_prefix('/'))
                .filter(|rest| !rest.contains('/'))
                .map(str::to_string)
                .collect(),
            Files::Folder(root) => crate::util::join_inside(root, under)
                .ok()
                .and_then(|dir| std::fs::read_dir(dir).ok())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
        };
        names.sort();
        names
    }

    /// `icalfa 0.3.6 (/path/to/site-packages/icalfa)`.
    pub fn describe(&self) -> String {
        format!("{} {} ({})", self.module, self.version.as_deref().unwrap_or("of unknown version"), self.origin)
    }
}

/// Whether `entry` (`icalfa-0.3.6.dist-info/METADATA`) belongs to the distribution `dist`.
fn dist_info_of(entry: &str, dist: &str) -> bool {
    let folder = entry.split('/').next().unwrap_or_default();
    let folder = folder.strip_suffix(".dist-info").unwrap_or(folder);
    let name = folder.rsplit_once('-').map_or(folder, |(name, _)| name);
    normalize(name) == normalize(dist)
}

/// Distribution names compare as PEP 503 says: case, `-`, `_` and `.` do not matter.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

fn metadata_version(metadata: &str) -> Option<String> {
    metadata.lines().find_map(|l| l.strip_prefix("Version:")).map(|v| v.trim().to_string())
}

/// The version in a `<dist>-<version>.dist-info` folder inside `site`, if there is one.
fn folder_version(site: &Path, dist: &str) -> Option<String> {
    let entries = std::fs::read_dir(site).ok()?;
    entries.filter_map(Result::ok).find_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let info = name.strip_suffix(".dist-info")?;
        dist_info_of(&format!("{name}/METADATA"), dist).then_some(())?;
        let metadata = std::fs::read_to_string(entry.path().join("METADATA")).ok();
        metadata.as_deref().and_then(metadata_version).or_else(|| info.rsplit_once('-').map(|(_, v)| v.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel(entries: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, text) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    #[test]
    fn a_wheel_is_read_in_memory_and_nothing_outside_its_package_is_taken() {
        let file = wheel(&[
            ("demo/__init__.py", ""),
            ("demo/assets/a.json", "[1]"),
            ("demo/../../etc/evil", "x"),
            ("/abs/demo/b", "x"),
            ("Demo_Pkg-1.2.3.dist-info/METADATA", "Name: demo-pkg\nVersion: 1.2.3\n"),
        ]);
        let package = Package::open(file.path(), "demo-pkg", "demo").unwrap();
        assert_eq!(package.version.as_deref(), Some("1.2.3"));
        assert_eq!(package.read_text("assets/a.json").unwrap(), "[1]");
        assert_eq!(package.list("assets"), vec!["a.json"]);
        assert!(matches!(package.read("../etc/evil"), Err(PackageError::Missing { .. })));
        let error = Package::open(file.path(), "other", "other").unwrap_err().to_string();
        assert!(error.contains("holds no `other` package"), "{error}");
    }

    #[test]
    fn a_folder_is_the_package_or_holds_it_and_paths_stay_inside() {
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(site.path().join("demo/assets")).unwrap();
        std::fs::write(site.path().join("demo/__init__.py"), "").unwrap();
        std::fs::write(site.path().join("demo/assets/a.json"), "[2]").unwrap();
        std::fs::write(site.path().join("secret"), "no").unwrap();
        std::fs::create_dir_all(site.path().join("demo-0.9.dist-info")).unwrap();
        std::fs::write(site.path().join("demo-0.9.dist-info/METADATA"), "Version: 0.9\n").unwrap();
        for path in [site.path().to_path_buf(), site.path().join("demo")] {
            let package = Package::open(&path, "demo", "demo").unwrap();
            assert_eq!(package.version.as_deref(), Some("0.9"));
            assert_eq!(package.read_text("assets/a.json").unwrap(), "[2]");
            assert!(package.read("../secret").is_err());
        }
        let error = Package::open(&site.path().join("demo/assets"), "demo", "demo").unwrap_err().to_string();
        assert!(error.contains("is a Python package"), "{error}");
    }

    #[test]
    fn a_package_that_is_not_installed_says_so() {
        let error = Package::installed("python3", "no-such-dist", "no_such_module_here").unwrap_err();
        assert!(matches!(error, PackageError::NotInstalled { .. }), "{error}");
        let error = Package::installed("/no/such/python", "x", "x").unwrap_err().to_string();
        assert!(error.contains("cannot be run"), "{error}");
    }
}
