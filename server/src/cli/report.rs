//! `self-harness report`: baseline vs current, per iteration, costs, a plot.

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult};
use crate::report::svg;

#[derive(Args)]
pub struct ReportArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Also write the tables as Markdown here (how docs/evidence.md is made).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write the pass-rate plot (SVG) here.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// The store (default: .self-harness in the current folder).
    #[arg(long, value_name = "DIR", default_value = ".self-harness")]
    store: PathBuf,
}

pub async fn run(args: ReportArgs) -> CliResult {
    let store = crate::store::Store::in_folder(&args.store);
    let read = crate::app::report::read(&store)?;
    for warning in &read.warnings {
        ui::warn(warning);
    }
    let Some(report) = &read.report else {
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!("no ledger and no evaluation yet in {}: run `self-harness loop` or `eval`", args.store.display()),
        ));
    };
    let write = |file: &PathBuf, text: String| {
        crate::util::write_atomic(file, text.as_bytes())
            .map_err(|e| CliError::new(exit::ENVIRONMENT, format!("{}: {e}", file.display())))
    };
    if let Some(file) = &args.html {
        write(file, read.page())?;
    }
    if let Some(file) = &args.markdown {
        write(file, report.markdown())?;
    }
    if let Some(file) = &args.svg {
        write(file, svg(report))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
    } else {
        print!("{}", report.text(&ui::table));
    }
    Ok(exit::OK)
}
