//! `self-harness trust`: the user's word that a repository's `self-harness.toml` may choose
//! its endpoint's key (see [`crate::trust`]).

use std::path::{Path, PathBuf};

use super::{exit, ui, CliError, CliResult};
use crate::trust::TrustStore;

#[derive(clap::Args)]
#[command(after_help = "\
Until you trust it, a self-harness.toml found above the working folder (or opened by an editor)
may set the model name, splits and budgets, but not `api_key_env`, and the endpoint it names
gets no key, this machine's included. Trust is bound to the file's content: an edit after
trusting (a `git pull`) makes it untrusted again. The record is in
$XDG_CONFIG_HOME/self-harness/trusted.toml (default ~/.config/self-harness/trusted.toml).

Examples:
  self-harness trust                    # the self-harness.toml found from here
  self-harness trust path/to/self-harness.toml
  self-harness trust --list
  self-harness trust --revoke")]
pub struct TrustArgs {
    /// The file (default: the self-harness.toml found from the working folder upwards).
    file: Option<PathBuf>,
    /// List the trusted files, and whether each is still as it was when trusted.
    #[arg(long, conflicts_with_all = ["file", "revoke"])]
    list: bool,
    /// Forget the file instead.
    #[arg(long)]
    revoke: bool,
    /// Print JSON instead of text (with --list).
    #[arg(long)]
    json: bool,
}

pub fn run(args: TrustArgs) -> CliResult {
    let env = |name: &str| std::env::var(name).ok();
    let record = crate::trust::store_path(&env).ok_or_else(|| {
        CliError::new(exit::ENVIRONMENT, "neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the record")
    })?;
    let mut store = TrustStore::load(&record).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    if args.list {
        return list(&store, args.json);
    }
    let file = match args.file {
        Some(file) => file,
        None => {
            let here = std::env::current_dir().map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
            crate::config::ProjectConfig::find(&here).ok_or_else(|| {
                CliError::new(exit::BAD_INPUT, format!("no {} here or above", crate::config::FILE_NAME))
            })?
        }
    };
    let save = |store: &TrustStore| {
        store.save(&record).map_err(|e| CliError::new(exit::ENVIRONMENT, format!("{}: {e}", record.display())))
    };
    if args.revoke {
        if store.revoke(&file) {
            save(&store)?;
            ui::info(&format!("{} is no longer trusted", file.display()));
        } else {
            ui::info(&format!("{} was not trusted", file.display()));
        }
        return Ok(exit::OK);
    }
    let text = read(&file)?;
    // Refuse what would not load: trusting a file should not hide that it is broken.
    crate::config::ProjectConfig::parse(&file, &text).map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))?;
    if store.trust(&file, &text) {
        save(&store)?;
        ui::info(&format!("trusted {} as it is now (sha256 {})", file.display(), &crate::trust::digest(&text)[..12]));
    } else {
        ui::info(&format!("{} is trusted already", file.display()));
    }
    Ok(exit::OK)
}

fn read(file: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|e| CliError::new(exit::BAD_INPUT, format!("{}: {e}", file.display())))
}

fn list(store: &TrustStore, json: bool) -> CliResult {
    let rows: Vec<serde_json::Value> = store
        .files
        .iter()
        .map(|t| {
            let state = match std::fs::read_to_string(&t.path) {
                Ok(text) if store.is_trusted(&t.path, &text) => "trusted",
                Ok(_) => "changed since (untrusted)",
                Err(_) => "missing",
            };
            serde_json::json!({"path": t.path, "sha256": t.sha256, "trusted_at": t.trusted_at, "state": state})
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
    } else if rows.is_empty() {
        println!("no trusted files");
    } else {
        let mut table = ui::table(&["file", "trusted at", "state"]);
        for row in &rows {
            table.add_row(vec![
                row["path"].as_str().unwrap_or_default().to_string(),
                row["trusted_at"].as_str().unwrap_or_default().to_string(),
                row["state"].as_str().unwrap_or_default().to_string(),
            ]);
        }
        println!("{table}");
    }
    Ok(exit::OK)
}
