//! The oids of bel's own relations, looked up by name once per backend instead of on every
//! use: a lone append named eight of them (a syscache lookup each, ~10k instructions of its
//! ~360k, callgrind). Any relcache invalidation the backend receives forgets them all, so a
//! relation dropped, renamed or created again (DROP and CREATE EXTENSION) is looked up
//! afresh; such invalidations are rare (DDL, VACUUM and ANALYZE of a table), a lookup cheap.
use std::cell::{Cell, RefCell};
use std::ffi::CStr;

use pgrx::pg_sys;

thread_local! {
    static KNOWN: RefCell<Vec<(&'static CStr, pg_sys::Oid)>> = const { RefCell::new(Vec::new()) };
    /// Set by the invalidation callback; KNOWN is emptied at the next lookup. A flag rather
    /// than clearing there: the callback may run inside a lookup (catalog reads process
    /// invalidations), and only a Cell is safe to touch at any point.
    static STALE: Cell<bool> = const { Cell::new(false) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// The oid of relation `name` (a table, index or sequence) in schema bel.
pub fn bel_relation(name: &'static CStr) -> pg_sys::Oid {
    if !CALLBACK_REGISTERED.replace(true) {
        // SAFETY: registered once per backend (PostgreSQL allows a few such callbacks and
        // keeps them for the backend's life); the callback only sets a flag.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(forget_all), pg_sys::Datum::from(0usize)) };
    }
    if STALE.replace(false) {
        KNOWN.with_borrow_mut(Vec::clear);
    }
    if let Some(oid) = KNOWN.with_borrow(|known| known.iter().find(|(n, _)| *n == name).map(|&(_, oid)| oid)) {
        return oid;
    }
    let oid = look_up(name);
    // A lookup that processed an invalidation found the current oid: keep it either way.
    KNOWN.with_borrow_mut(|known| known.push((name, oid)));
    oid
}

fn look_up(name: &CStr) -> pg_sys::Oid {
    // SAFETY: catalog lookups by name; get_namespace_oid raises if the schema is missing.
    let oid = unsafe {
        let ns = pg_sys::get_namespace_oid(c"bel".as_ptr(), false);
        pg_sys::get_relname_relid(name.as_ptr(), ns)
    };
    if oid == pg_sys::InvalidOid {
        crate::errors::internal("catalog", format!("relation bel.{} does not exist", name.to_string_lossy()));
    }
    oid
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn forget_all(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    STALE.set(true);
}
