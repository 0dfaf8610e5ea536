//! `self-harness images …`

use std::path::PathBuf;

use clap::Subcommand;

use super::{engine, exit, ui, CliError, CliResult};
use crate::sandbox::base::{self, BuildOptions};
use crate::sandbox::python::PythonImage;
use crate::sandbox::standins::{self, SHARED_DIFFERENCES, STAND_INS};

/// The Python stand-ins `--python` names (`all`, or `3.13-bookworm` …), or an error that
/// lists the names there are.
fn python_images_named(names: &[String]) -> Result<Vec<&'static PythonImage>, CliError> {
    let all = standins::python_images();
    if names.iter().any(|n| n == "all") {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            let wanted = format!("self-harness/python:{name}");
            all.iter().copied().find(|p| p.tag() == wanted).ok_or_else(|| {
                let known: Vec<String> =
                    all.iter().map(|p| p.tag().trim_start_matches("self-harness/python:").to_string()).collect();
                CliError::new(
                    exit::BAD_INPUT,
                    format!("no Python stand-in `{name}`; there are: {}, all", known.join(", ")),
                )
            })
        })
        .collect()
}

#[derive(Subcommand)]
pub enum ImagesCommand {
    /// Build the base images with debootstrap (needs root, ~2 minutes each) and the Ubuntu
    /// stand-in on trixie (its apt installs Debian's version of an Ubuntu pin, and says so),
    /// and tag the stand-in names; with --python, also Python stand-ins, which are otherwise built the
    /// first time a task asks for them (~6 minutes each on two cores). Up-to-date images are
    /// kept unless --force.
    #[command(
        after_help = "Examples:\n  self-harness images build\n  self-harness images build --python 3.13-bookworm --python 3.11-trixie\n  self-harness images build --python all"
    )]
    Build {
        /// Rebuild even when the image is up to date.
        #[arg(long)]
        force: bool,
        /// Also build these Python stand-ins (`3.13-bookworm`, as `images stand-ins` lists
        /// them after `self-harness/python:`), or `all`.
        #[arg(long, value_name = "VERSION-RELEASE")]
        python: Vec<String>,
        /// Debian mirror for debootstrap, apt inside containers and the Python sources.
        #[arg(long, env = "SELF_HARNESS_DEBIAN_MIRROR", default_value = base::DEFAULT_DEBIAN_MIRROR)]
        mirror: String,
        /// The host's CA bundle, copied into images for pip, uv, curl and node.
        #[arg(long, env = "SELF_HARNESS_CA_BUNDLE", default_value = "/etc/ssl/certs/ca-certificates.crt")]
        ca_bundle: PathBuf,
        /// Scratch space for the root file system (removed afterwards).
        #[arg(long, default_value_os_t = std::env::temp_dir().join("self-harness-images"))]
        work_dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show, per registry image pattern, the local image that serves it, what that image
    /// provides, whether it is built yet, and every known difference from the real image.
    /// Python stand-ins are built the first time a task asks for them.
    StandIns {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: ImagesCommand) -> CliResult {
    match command {
        ImagesCommand::Build { force, python, mirror, ca_bundle, work_dir, json } => {
            let options = BuildOptions { force, mirror, ca_bundle, work_dir };
            build(&python, options, json).await
        }
        ImagesCommand::StandIns { json } => stand_ins(json).await,
    }
}

/// `images build`: the base images, the Ubuntu stand-in (and the `ubuntu:*` names pointed
/// at it) and the Python images asked for, each built unless up to date.
async fn build(python: &[String], options: BuildOptions, json: bool) -> CliResult {
    let pythons = python_images_named(python)?;
    let engine = engine().await?;
    let spinner = ui::spinner("images build");
    let interactive = ui::interactive();
    let progress = |line: &str| {
        if interactive {
            spinner.set_message(line.to_string());
        } else if !line.starts_with("I: ") {
            // On a pipe: our steps, and debootstrap's warnings and errors, not its
            // hundreds of per-package lines.
            ui::info(line);
        }
    };
    let failed = |e: crate::sandbox::SandboxError| {
        let code = if matches!(e, crate::sandbox::SandboxError::Io(_)) { exit::ENVIRONMENT } else { exit::FAILED };
        CliError::new(code, e.to_string())
    };
    let mut reports = base::build(engine, &options, &progress).await.map_err(failed)?;
    // The Ubuntu stand-in, and the literal `ubuntu:*` names pointed at it, as Harbor's
    // own builds find them.
    for served in standins::STAND_INS.iter().map(|s| &s.serves) {
        let standins::Serves::Ubuntu(on) = served else { continue };
        let tag = crate::sandbox::ubuntu::tag(on);
        if reports.iter().any(|r| r.tag == tag) {
            continue;
        }
        let started = std::time::Instant::now();
        if options.force {
            engine.remove_image(&tag).await;
        }
        let mut log = |line: &str| progress(line);
        let ensured = crate::sandbox::ubuntu::ensure(engine, on, &mut log).await.map_err(failed)?;
        let mut aliases = Vec::new();
        for name in standins::literal_names(&tag) {
            base::tag_alias(engine, &tag, name).await.map_err(failed)?;
            aliases.push(name.to_string());
        }
        reports.push(base::BuildReport {
            tag,
            up_to_date: !ensured.built,
            aliases,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    for python in pythons {
        let started = std::time::Instant::now();
        if options.force {
            engine.remove_image(&python.tag()).await;
        }
        let mut log = |line: &str| progress(line);
        let ensured =
            crate::sandbox::python::ensure(engine, python, &options.mirror, &mut log).await.map_err(failed)?;
        reports.push(base::BuildReport {
            tag: python.tag(),
            up_to_date: !ensured.built,
            aliases: Vec::new(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    spinner.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports).unwrap_or_default());
    } else {
        let mut table = ui::table(&["image", "state", "seconds", "tagged as"]);
        for r in &reports {
            let state = if r.up_to_date { "up to date" } else { "built" };
            table.add_row(vec![r.tag.clone(), state.into(), format!("{:.0}", r.seconds), r.aliases.join(", ")]);
        }
        println!("{table}");
    }
    Ok(exit::OK)
}

/// `images stand-ins`: which registry images this machine serves with what, and how they differ.
async fn stand_ins(json: bool) -> CliResult {
    // Without an engine the table is still worth showing; only "built" is unknown.
    let engine = crate::sandbox::Engine::connect().await.ok();
    let mut rows = Vec::new();
    for s in STAND_INS {
        let tag = s.serves.tag();
        let built = match &engine {
            Some(engine) => Some(engine.has_image(&tag).await),
            None => None,
        };
        let differences: Vec<&str> = s.differences.iter().chain(SHARED_DIFFERENCES).copied().collect();
        rows.push(serde_json::json!({
            "pattern": s.pattern,
            "served_by": tag,
            "provides": s.serves.describe(),
            "built": built,
            "differences": differences,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(exit::OK);
    }
    let mut table = ui::table(&["registry image", "served by", "provides", "built", "known differences"]);
    for (s, row) in STAND_INS.iter().zip(&rows) {
        let built = match row["built"].as_bool() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let differences: Vec<String> = s.differences.iter().map(|d| format!("• {d}")).collect();
        table.add_row(vec![
            s.pattern.to_string(),
            s.serves.tag(),
            s.serves.describe(),
            built.into(),
            differences.join("\n"),
        ]);
    }
    println!("{table}");
    println!("Every stand-in also differs in this: {}", SHARED_DIFFERENCES.join("; "));
    Ok(exit::OK)
}
