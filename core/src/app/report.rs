//! The report of a store, read one way for every front end: the loop's ledger, the
//! evaluations kept beside it (`eval`'s, the editor's), the weaknesses and every validation
//! decision. A store is a file tree anyone may have edited or a crash may have cut short,
//! so what cannot be read is left out *and said*, never dropped in silence.

use super::{Error, ErrorKind};
use crate::evolve::ledger;
use crate::report::Report;
use crate::stages::mine::Weakness;
use crate::stages::validate::ValidationRecord;
use crate::store::Store;

/// What a store's report is made of.
pub struct StoreReport {
    /// `None` when the store has neither a ledger nor an evaluation.
    pub report: Option<Report>,
    pub weaknesses: Vec<Weakness>,
    pub validations: Vec<ValidationRecord>,
    /// What was read only in part, each naming its file.
    pub warnings: Vec<String>,
}

impl StoreReport {
    /// The self-contained HTML page: the report with its plot, the weaknesses and the decisions.
    pub fn page(&self) -> String {
        crate::report::page(self.report.as_ref(), &self.weaknesses, &self.validations)
    }
}

/// Reads `store`'s report. Only a ledger that cannot be read at all is an error: it is what
/// every other number hangs on.
pub fn read(store: &Store) -> Result<StoreReport, Error> {
    let path = store.ledger_path();
    let ledger = ledger::read(&path).map_err(|e| Error::new(ErrorKind::BadInput, e))?;
    let mut warnings = Vec::new();
    if ledger.torn {
        warnings.push(format!("{}: the last line was cut off (a crash while writing) and is skipped", path.display()));
    }
    let (evaluations, unreadable) = crate::episodes::evaluations(store);
    warnings.extend(unreadable.into_iter().map(|problem| format!("{problem}: not an evaluation summary; left out")));
    let weaknesses = or_none(crate::stages::mine::saved(store), "weaknesses", &mut warnings);
    let validations = or_none(crate::stages::validate::records(store), "validation decisions", &mut warnings);
    Ok(StoreReport { report: Report::of(&ledger.entries, &evaluations), weaknesses, validations, warnings })
}

/// What was read, or nothing and a warning saying why.
fn or_none<T>(read: Result<Vec<T>, String>, what: &str, warnings: &mut Vec<String>) -> Vec<T> {
    read.unwrap_or_else(|e| {
        warnings.push(format!("{e}: the {what} are left out"));
        Vec::new()
    })
}
