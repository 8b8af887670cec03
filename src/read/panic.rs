//! The panic scope of a submission: a parser that panics on a crafted file costs that submission, not
//! the run. While a thread reads a submission (`enter_boundary`), a panic is logged once as an error with
//! its message and place (never the default hook's text and backtrace on stderr) and `catch` hands it
//! back as the submission's failure. Outside the scope the default hook runs as always.

use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    /// Set while this thread reads a submission: a panic here is the submission's, not the program's.
    static IN_BOUNDARY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The panic the hook saw on this thread, for the finding's detail.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

static HOOK: std::sync::Once = std::sync::Once::new();

/// Inside the boundary a panic is logged once, as an error with its message and place, instead of the
/// default hook's text and backtrace on stderr; outside it the default hook runs as always.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_BOUNDARY.with(std::cell::Cell::get) {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::error!(panic = %message, %location, "a reader panicked on a submission; it is rejected as unreadable");
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message} ({location})")));
            } else {
                default(info);
            }
        }));
    });
}

/// Marks the current thread as reading a submission while it lives (threads a reader spawns take one
/// too).
pub struct BoundaryGuard {
    was: bool,
}

pub fn enter_boundary() -> BoundaryGuard {
    install_panic_hook();
    BoundaryGuard {
        was: IN_BOUNDARY.with(|b| b.replace(true)),
    }
}

impl Drop for BoundaryGuard {
    fn drop(&mut self) {
        IN_BOUNDARY.with(|b| b.set(self.was));
    }
}

/// Run `read` inside the scope; a panic comes back as its message and place.
pub fn catch<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    let _boundary = enter_boundary();
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(value) => Ok(value),
        Err(panic) => Err(LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| {
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            })),
    }
}
