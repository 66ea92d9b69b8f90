//! The planner settings the append path's own statements run under, set in code around
//! that path rather than as `SET` clauses on the append functions.
//!
//! A function's `SET` clauses are applied and undone on every call (parsed from the
//! catalog's text array each time): 13k instructions per append for these five, 4% of a
//! lone build request's, which runs no statement at all (`store::write_lone_creation`).
//! The read functions keep them as `SET` clauses (sql/roles.sql says why each is needed).
use pgrx::pg_sys;

/// What sql/roles.sql sets on the read functions, for the same reasons: kept plans stay
/// generic, and never a sequential scan or a hash or merge join over a growing table.
const SETTINGS: [(&std::ffi::CStr, &std::ffi::CStr); 5] = [
    (c"plan_cache_mode", c"force_generic_plan"),
    (c"jit", c"off"),
    (c"enable_seqscan", c"off"),
    (c"enable_hashjoin", c"off"),
    (c"enable_mergejoin", c"off"),
];

/// Runs `f` with [`SETTINGS`] in force, as a function's `SET` clauses would be: in a new
/// GUC nesting level, undone when `f` returns, and by the (sub)transaction's abort if it
/// raises (`fmgr_security_definer` relies on the same). So only where every error ends in
/// a (sub)transaction abort: nothing may catch one inside `f` and carry on.
pub(crate) fn with_planner_settings<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the calls fmgr_security_definer makes for a function's SET clauses; every
    // setting is a user-settable one and every value valid (an invalid one raises).
    let nest_level = unsafe {
        let nest_level = pg_sys::NewGUCNestLevel();
        for (name, value) in SETTINGS {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                pgrx::PgLogLevel::ERROR as i32,
                false,
            );
        }
        nest_level
    };
    let result = f();
    // SAFETY: pops the level opened above (and any nested under it), restoring the values.
    unsafe { pg_sys::AtEOXact_GUC(true, nest_level) };
    result
}
