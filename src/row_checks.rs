//! The CHECK constraints of a table, checked on the rows `row_write` writes as the executor
//! checks an INSERT's rows. The executor parses and plans a table's CHECK expressions again
//! for every statement; for bel.events' one CHECK that was ~50k instructions, a tenth of a
//! lone append (callgrind, docs/benchmarks.md). Here they are compiled once per backend and
//! table, and compiled again whenever the table's CHECK constraints are no longer those
//! compiled (ALTER TABLE ... ADD/DROP CONSTRAINT). They are not planned (no function is
//! inlined or folded into them), so a function a CHECK calls is called as it is now, as a
//! replanned statement would.
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::rc::Rc;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgLogLevel, PgMemoryContexts, PgSqlErrorCode};

/// A table's CHECK expressions, compiled, in memory that lives as long as this value.
pub struct CompiledChecks {
    relid: pg_sys::Oid,
    /// (name, the stored expression's text) of each constraint, in the relation's order.
    sources: Vec<(CString, CString)>,
    context: pg_sys::MemoryContext,
    /// Evaluates the expressions; its per-query memory (where an expression keeps what it
    /// builds once, e.g. the hash table of a long IN list) is `context`.
    econtext: *mut pg_sys::ExprContext,
    expressions: Vec<*mut pg_sys::ExprState>,
}

thread_local! {
    static COMPILED: RefCell<Vec<Rc<CompiledChecks>>> = const { RefCell::new(Vec::new()) };
}

impl CompiledChecks {
    /// The CHECK constraints of `relation` (open), compiled now or earlier in this backend.
    ///
    /// # Safety
    /// `relation` must be open.
    pub unsafe fn of(relation: pg_sys::Relation) -> Rc<CompiledChecks> {
        // SAFETY: the caller keeps the relation open.
        let (relid, current) = unsafe { ((*relation).rd_id, check_sources(relation)) };
        COMPILED.with(|compiled| {
            let mut compiled = compiled.borrow_mut();
            let same = |c: &CompiledChecks| {
                c.relid == relid
                    && c.sources.len() == current.len()
                    && c.sources
                        .iter()
                        .zip(&current)
                        .all(|((n, s), (cn, cs))| n.as_c_str() == *cn && s.as_c_str() == *cs)
            };
            if let Some(found) = compiled.iter().find(|c| same(c)) {
                return Rc::clone(found);
            }
            compiled.retain(|c| c.relid != relid);
            let sources = current.iter().map(|(n, s)| (CString::from(*n), CString::from(*s))).collect();
            // SAFETY: the expressions are the relation's own, as the executor reads them.
            let fresh = Rc::new(unsafe { compile(relid, sources) });
            compiled.push(Rc::clone(&fresh));
            fresh
        })
    }

    /// Raises 23514 if the row in `slot` fails a CHECK constraint (NULL passes, as in SQL).
    ///
    /// # Safety
    /// `slot` must hold a row of the relation these checks were compiled for.
    pub unsafe fn check(&self, slot: *mut pg_sys::TupleTableSlot, table: &str) {
        // SAFETY: the expressions and their context were compiled for this row type; the
        // per-tuple memory is reset before each row (an error may have left it in use).
        unsafe {
            pg_sys::MemoryContextReset((*self.econtext).ecxt_per_tuple_memory);
            (*self.econtext).ecxt_scantuple = slot;
            for (expression, (name, _)) in self.expressions.iter().zip(&self.sources) {
                if !pg_sys::ExecCheck(*expression, self.econtext) {
                    let name = name.to_string_lossy();
                    ErrorReport::new(
                        PgSqlErrorCode::ERRCODE_CHECK_VIOLATION,
                        format!("new row for relation \"{table}\" violates check constraint \"{name}\""),
                        "bel",
                    )
                    .set_detail("bel made this row itself from a validated event")
                    .set_hint(crate::row_write::CHANGED_TABLE_HINT)
                    .report(PgLogLevel::ERROR);
                }
            }
        }
    }
}

impl Drop for CompiledChecks {
    fn drop(&mut self) {
        // SAFETY: the context was made by `compile` for this value alone.
        unsafe { pg_sys::MemoryContextDelete(self.context) };
    }
}

/// (name, expression text) of each CHECK constraint of `relation`, borrowed from it.
///
/// # Safety
/// `relation` must be open, and stay so while the result is used.
unsafe fn check_sources<'r>(relation: pg_sys::Relation) -> Vec<(&'r CStr, &'r CStr)> {
    // SAFETY: constr is NULL or holds num_check entries with NUL-terminated strings.
    unsafe {
        let constraints = (*(*relation).rd_att).constr;
        if constraints.is_null() || (*constraints).num_check == 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts((*constraints).check, usize::from((*constraints).num_check))
            .iter()
            .map(|c| (CStr::from_ptr(c.ccname), CStr::from_ptr(c.ccbin)))
            .collect()
    }
}

/// Parses and compiles `sources` into a memory context of their own under TopMemoryContext
/// (what ExecRelCheck does per statement, in the statement's memory). An error on the way
/// leaves that context behind: a few kilobytes, once per backend and constraint set.
///
/// # Safety
/// `sources` must be expressions over the rows of relation `relid`.
unsafe fn compile(relid: pg_sys::Oid, sources: Vec<(CString, CString)>) -> CompiledChecks {
    // SAFETY: a new context under TopMemoryContext holds every allocation below, and is
    // deleted with the CompiledChecks that owns it.
    unsafe {
        let context = pg_sys::AllocSetContextCreateInternal(
            pg_sys::TopMemoryContext,
            c"bel row checks".as_ptr(),
            0,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        PgMemoryContexts::For(context).switch_to(|_| {
            let econtext = pg_sys::CreateStandaloneExprContext();
            let expressions = sources
                .iter()
                .map(|(_, text)| {
                    let expression = pg_sys::stringToNode(text.as_ptr()).cast::<pg_sys::Expr>();
                    // Operators' function oids, which a stored expression may lack; no
                    // planning beyond that (see the module's doc).
                    pg_sys::fix_opfuncids(expression.cast());
                    pg_sys::ExecInitExpr(expression, std::ptr::null_mut())
                })
                .collect();
            CompiledChecks { relid, sources, context, econtext, expressions }
        })
    }
}
