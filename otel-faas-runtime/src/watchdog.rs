//! The deadline watchdog: one thread per pipeline that notices an invocation still running a
//! margin before its deadline, whatever the handler's task is doing.
//!
//! A timer polled in the handler's own task cannot fire while the handler blocks its thread,
//! and a task spawned per invocation costs a spawn and an abort on every invocation. Here an
//! invocation only stores its deadline under a mutex (arming and disarming are a lock each),
//! and wakes the thread only when the thread would otherwise sleep past that deadline — in
//! steady state, deadlines only move later, so no invocation pays for a wake-up. The thread
//! wakes at the deadline it slept for, finds the next one, and sleeps again. When an armed
//! deadline passes, it ends the invocation's open spans as a timeout, records the metrics,
//! and hands the export to the invocation's runtime.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Handle;

use crate::invocation::InvocationScope;

/// What fires when an armed deadline passes: the invocation, its deadline, when its handler
/// started, and the runtime it runs on.
pub(crate) type OnTimeout = fn(Arc<InvocationScope>, Option<SystemTime>, Instant, Option<Handle>);

/// One armed invocation.
struct Armed {
    /// When to fire: the deadline less the margin.
    at: Instant,
    scope: Arc<InvocationScope>,
    deadline: Option<SystemTime>,
    started: Instant,
    runtime: Option<Handle>,
    generation: u64,
}

#[derive(Default)]
struct State {
    armed: Option<Armed>,
    generation: u64,
    closed: bool,
    /// When the thread will wake up by itself; `None` while it waits to be woken.
    wakes_at: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The watchdog of one pipeline; its thread starts with the first armed invocation and
/// ends when the pipeline is dropped.
#[derive(Default)]
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: OnceLock<()>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog").finish_non_exhaustive()
    }
}

/// How late the watchdog may fire rather than wake its thread early: far below the
/// deadline margin (`OTEL_FAAS_DEADLINE_MARGIN`, 100 ms by default).
const SLACK: Duration = Duration::from_millis(1);

/// Disarms its invocation when dropped (the handler ended, or panicked).
pub(crate) struct Guard<'a> {
    watchdog: &'a Watchdog,
    generation: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut state = self.watchdog.shared.lock();
        if state
            .armed
            .as_ref()
            .is_some_and(|a| a.generation == self.generation)
        {
            state.armed = None;
        }
    }
}

impl Watchdog {
    /// Watches `scope` until the returned guard is dropped; `on_timeout` runs on the
    /// watchdog's thread if `after` passes first.
    pub(crate) fn arm(
        &self,
        after: Duration,
        scope: Arc<InvocationScope>,
        deadline: Option<SystemTime>,
        started: Instant,
        on_timeout: OnTimeout,
    ) -> Guard<'_> {
        self.thread.get_or_init(|| {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("otel-faas-watchdog".to_owned())
                .spawn(move || watch(&shared, on_timeout));
            if let Err(error) = spawned {
                tracing::warn!(target: "otel_faas", "no deadline watchdog: {error}");
            }
        });
        let mut state = self.shared.lock();
        state.generation += 1;
        let generation = state.generation;
        let at = Instant::now() + after;
        // The thread already waking by `at` (give or take SLACK) is left asleep: deadlines
        // read from the wall clock jitter by microseconds against `Instant`, and waking a
        // thread costs a context switch — on every invocation, when each one's deadline
        // is the same (as in benchmarks) or comes within the slack of the last one's.
        let wake = state.wakes_at.is_none_or(|wakes_at| wakes_at > at + SLACK);
        state.armed = Some(Armed {
            at,
            scope,
            deadline,
            started,
            runtime: Handle::try_current().ok(),
            generation,
        });
        drop(state);
        if wake {
            self.shared.wake.notify_one();
        }
        Guard {
            watchdog: self,
            generation,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The thread: sleeps until the armed deadline, fires, and waits for the next.
fn watch(shared: &Shared, on_timeout: OnTimeout) {
    let mut state = shared.lock();
    loop {
        if state.closed {
            return;
        }
        let due = state
            .armed
            .as_ref()
            .map(|armed| armed.at.saturating_duration_since(Instant::now()));
        state = match due {
            None => {
                state.wakes_at = None;
                shared.wake.wait(state).unwrap_or_else(|p| p.into_inner())
            }
            Some(left) if left.is_zero() => {
                let armed = state.armed.take();
                drop(state);
                if let Some(armed) = armed {
                    on_timeout(armed.scope, armed.deadline, armed.started, armed.runtime);
                }
                shared.lock()
            }
            Some(left) => {
                state.wakes_at = Some(Instant::now() + left);
                shared
                    .wake
                    .wait_timeout(state, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::export::MemoryExporter;
    use crate::telemetry::Telemetry;

    static FIRED: AtomicUsize = AtomicUsize::new(0);

    fn count(_: Arc<InvocationScope>, _: Option<SystemTime>, _: Instant, _: Option<Handle>) {
        FIRED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn it_fires_for_an_invocation_still_armed_and_never_for_a_disarmed_one() {
        let telemetry = Telemetry::builder()
            .config(crate::config::Config::from_lookup(|_| None))
            .with_exporter(MemoryExporter::default())
            .build();
        let scope = || InvocationScope::new(telemetry.clone());
        let watchdog = Watchdog::default();
        let now = Instant::now();

        let disarmed = watchdog.arm(Duration::from_millis(30), scope(), None, now, count);
        drop(disarmed);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(FIRED.load(Ordering::SeqCst), 0);

        // A later deadline needs no wake-up; an earlier one does. Both are kept to.
        let late = watchdog.arm(Duration::from_secs(60), scope(), None, now, count);
        drop(late);
        let _armed = watchdog.arm(Duration::from_millis(20), scope(), None, now, count);
        let waited = Instant::now();
        while FIRED.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(FIRED.load(Ordering::SeqCst), 1);
    }
}
