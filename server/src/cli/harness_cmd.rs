//! `self-harness harness …`: other agents' harnesses in and out.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{exit, ui, CliError, CliResult};
use crate::harness::interop::{mini_swe_agent, terminus_2, Converted, InteropError};
use crate::pypackage::{Package, PackageError};

#[derive(Subcommand)]
pub enum HarnessCommand {
    /// Make a harness folder from another agent's configuration. `mini-swe-agent`: its
    /// YAML (templates, action regex or tool call, completion command, step limit,
    /// environment variables), by default both configurations of the installed package
    /// (`mini_textbased.yaml` and `mini.yaml`). `terminus-2`: Harbor's Terminus-2 prompt
    /// (a Python format string), by default the installed `harbor` package's JSON one,
    /// becoming a harness that types keystrokes into a terminal pane.
    ///
    /// The templates are translated (`{{task}}` → `{{ instruction }}`, `output.returncode`
    /// → `exit_code`, `{terminal_state}` → `{{ terminal }}`, …); whatever has no counterpart
    /// or differs is named on stderr and in the folder's IMPORTED.md, never dropped
    /// silently. The texts are read from your files or your installed package, not from
    /// this program.
    #[command(
        after_help = "Examples:\n  pip install mini-swe-agent==2.4.6\n  self-harness harness import mini-swe-agent --out harnesses-imported\n  self-harness harness import mini-swe-agent my-config.yaml --out harnesses/mine\n  self-harness harness import terminus-2 --python .venv-harbor/bin/python --out harnesses-imported"
    )]
    Import(ImportArgs),
    /// Write a harness as another agent's configuration, on stdout. `mini-swe-agent`: a
    /// YAML that `mini -c config.yaml` runs; what it cannot say is named on stderr.
    #[command(
        after_help = "Example:\n  self-harness harness export mini-swe-agent .self-harness/harness > config.yaml\n  mini -c config.yaml -c model.model_kwargs.api_base=http://127.0.0.1:8080/v1 -t \"…\""
    )]
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// The other agent.
    #[arg(value_parser = ["mini-swe-agent", "terminus-2"])]
    agent: String,
    /// Its configuration file (Terminus-2: a prompt file); by default the configurations
    /// of the installed package, each into a folder of its own under --out.
    config: Option<PathBuf>,
    /// The harness folder to write (with CONFIG), or the folder to write them into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The harness's name (with CONFIG; default: the file's name).
    #[arg(long)]
    name: Option<String>,
    /// A wheel, or a folder holding the package, instead of the installed one.
    #[arg(long, value_name = "PATH", conflicts_with = "config")]
    from: Option<PathBuf>,
    /// The Python whose installed package is read.
    #[arg(long, value_name = "PYTHON", default_value = "python3", env = "SELF_HARNESS_PYTHON")]
    python: String,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The other agent.
    #[arg(value_parser = ["mini-swe-agent"])]
    agent: String,
    /// The harness folder.
    harness: PathBuf,
}

pub fn run(command: HarnessCommand) -> CliResult {
    match command {
        HarnessCommand::Import(args) => import(args),
        HarnessCommand::Export(args) => export(args),
    }
}

fn bad(e: impl std::fmt::Display) -> CliError {
    CliError::new(exit::BAD_INPUT, e.to_string())
}

/// An agent whose harness can be imported: the package that holds its configurations,
/// the ones read by default (file in the package, harness name), and the converter.
struct Importable {
    dist: &'static str,
    module: &'static str,
    pinned: &'static str,
    install_hint: &'static str,
    packaged: &'static [(&'static str, &'static str)],
    import: fn(&str, &str, &str) -> Result<Converted, InteropError>,
}

const MINI_SWE_AGENT: Importable = Importable {
    dist: mini_swe_agent::DIST,
    module: mini_swe_agent::MODULE,
    pinned: mini_swe_agent::PINNED,
    install_hint: mini_swe_agent::INSTALL_HINT,
    packaged: &mini_swe_agent::PACKAGED,
    import: mini_swe_agent::import,
};

const TERMINUS_2: Importable = Importable {
    dist: terminus_2::DIST,
    module: terminus_2::MODULE,
    pinned: terminus_2::PINNED,
    install_hint: terminus_2::INSTALL_HINT,
    packaged: &[(terminus_2::TEMPLATE, "terminus-2")],
    import: terminus_2::import,
};

fn import(args: ImportArgs) -> CliResult {
    let agent = if args.agent == "terminus-2" { &TERMINUS_2 } else { &MINI_SWE_AGENT };
    // (source for messages, text, harness name, folder)
    let mut configs: Vec<(String, String, String, PathBuf)> = Vec::new();
    if let Some(config) = &args.config {
        let text = std::fs::read_to_string(config).map_err(|e| bad(format!("{}: {e}", config.display())))?;
        let stem = config.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
        configs.push((config.display().to_string(), text, args.name.clone().unwrap_or(stem), args.out.clone()));
    } else {
        let package = match &args.from {
            Some(path) => Package::open(path, agent.dist, agent.module),
            None => Package::installed(&args.python, agent.dist, agent.module),
        };
        let package = package.map_err(|e| match e {
            PackageError::NotInstalled { .. } => bad(format!(
                "{e}\n  install it: {}, or name its Python with --python, or give --from a wheel or folder, or a CONFIG file",
                agent.install_hint
            )),
            e => bad(e),
        })?;
        if package.version.as_deref() != Some(agent.pinned) {
            ui::warn(&format!("{}: the imports are tested with {}", package.describe(), agent.pinned));
        }
        for (file, name) in agent.packaged {
            let text = package.read_text(file).map_err(bad)?;
            let source = format!("{} {} {file}", agent.dist, package.version.as_deref().unwrap_or("?"));
            configs.push((source, text, name.to_string(), args.out.join(name)));
        }
    }
    let mut written = Vec::new();
    for (source, text, name, dir) in configs {
        let converted: Converted = (agent.import)(&text, &source, &name).map_err(bad)?;
        converted.write_harness(&dir, &source).map_err(bad)?;
        // What was written must load; the notes say what did not map.
        if let Err(e) = crate::harness::Harness::open(&dir) {
            return Err(bad(format!("imported, but {e}")));
        }
        if !args.json {
            println!("{} ← {source}", dir.display());
            for note in &converted.notes {
                ui::warn(&format!("{name}: {note}"));
            }
        }
        written.push(serde_json::json!({"dir": dir, "source": source, "notes": converted.notes}));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "harnesses": written })).unwrap_or_default());
    }
    Ok(exit::OK)
}

fn export(args: ExportArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let converted = mini_swe_agent::export(&harness).map_err(bad)?;
    for note in &converted.notes {
        ui::warn(note);
    }
    for (_, text) in &converted.files {
        print!("{text}");
    }
    Ok(exit::OK)
}
