//! Raising refusals as Postgres errors with SQLSTATE, message, DETAIL and HINT.
use bel_core::{ErrorClass, Rejection};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

fn sqlstate(class: ErrorClass) -> PgSqlErrorCode {
    match class {
        ErrorClass::Malformed => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        ErrorClass::InvalidValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        ErrorClass::TooLarge => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        ErrorClass::InvalidTransition => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        ErrorClass::RuleViolation => PgSqlErrorCode::ERRCODE_CHECK_VIOLATION,
        ErrorClass::UnknownReference => PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
        ErrorClass::EventIdConflict => PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
        ErrorClass::WrongTransactionState => PgSqlErrorCode::ERRCODE_INVALID_TRANSACTION_STATE,
        ErrorClass::NotFound => PgSqlErrorCode::ERRCODE_NO_DATA_FOUND,
    }
}

/// Raises `rejection` as an ERROR; the statement (and so the append) is rolled back.
pub fn raise(rejection: Rejection) -> ! {
    let mut report = ErrorReport::new(sqlstate(rejection.class), rejection.message, "bel");
    if let Some(detail) = rejection.detail {
        report = report.set_detail(detail);
    }
    if let Some(hint) = rejection.hint {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Unwraps a core result or raises its refusal.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, Rejection> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|r| raise(r))
    }
}

/// An internal failure (an SPI error on our own statements): not the caller's fault.
pub fn internal(context: &str, error: impl std::fmt::Display) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("bel: {context}: {error}"), "bel")
        .report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}
