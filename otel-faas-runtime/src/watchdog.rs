//! The deadline watchdog: one thread per platform loop that notices an invocation still
//! running a margin before its deadline, whatever the handler's task is doing.
//!
//! A timer polled in the handler's own task cannot fire while the handler blocks its thread,
//! and a task spawned per invocation costs a spawn and an abort on every invocation. Here an
//! invocation only stores its deadline under a mutex (arming and disarming are a lock each),
//! and wakes the thread only when the thread would otherwise sleep past that deadline — in
//! steady state, deadlines only move later, so no invocation pays for a wake-up. The thread
//! wakes at the earliest armed deadline, fires every entry that is due, and sleeps until the
//! next one.
//!
//! Concurrent invocations (Lambda Managed Instances, Azure's concurrent host requests) each
//! have an entry of their own: one invocation timing out fires its entry only. The watchdog
//! knows nothing of invocations or telemetry; what fires is the closure an entry was armed
//! with.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// What fires when an armed deadline passes.
pub(crate) type OnTimeout = Box<dyn FnOnce() + Send>;

/// One armed entry.
struct Armed {
    /// When to fire: the deadline less the margin.
    at: Instant,
    generation: u64,
    on_timeout: OnTimeout,
}

#[derive(Default)]
struct State {
    /// The armed entries, in no particular order: a handful at most, one per invocation
    /// in flight.
    armed: Vec<Armed>,
    generation: u64,
    closed: bool,
    /// When the thread will wake up by itself; `None` while it waits to be woken.
    wakes_at: Option<Instant>,
}

impl State {
    fn earliest(&self) -> Option<Instant> {
        self.armed.iter().map(|a| a.at).min()
    }
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

/// The watchdog of one platform loop; its thread starts with the first armed entry and
/// ends when the watchdog is dropped.
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

/// Disarms its entry when dropped (the handler ended, or panicked).
pub(crate) struct Guard {
    shared: Arc<Shared>,
    generation: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(i) = state
            .armed
            .iter()
            .position(|a| a.generation == self.generation)
        {
            // Dropped outside the lock: the closure owns the invocation it would end.
            let entry = state.armed.swap_remove(i);
            drop(state);
            drop(entry);
        }
    }
}

impl Watchdog {
    /// Runs `on_timeout` on the watchdog's thread once `after` has passed, unless the
    /// returned guard is dropped first.
    pub(crate) fn arm(&self, after: Duration, on_timeout: OnTimeout) -> Guard {
        self.thread.get_or_init(|| {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("otel-faas-watchdog".to_owned())
                .spawn(move || watch(&shared));
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
        state.armed.push(Armed {
            at,
            generation,
            on_timeout,
        });
        drop(state);
        if wake {
            self.shared.wake.notify_one();
        }
        Guard {
            shared: self.shared.clone(),
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

/// The thread: sleeps until the earliest armed deadline, fires what is due, and waits for
/// the next.
fn watch(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.closed {
            return;
        }
        let now = Instant::now();
        let due: Vec<Armed> = {
            let mut due = Vec::new();
            let mut i = 0;
            while i < state.armed.len() {
                if state.armed[i].at <= now {
                    due.push(state.armed.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            due
        };
        if !due.is_empty() {
            drop(state);
            for armed in due {
                (armed.on_timeout)();
            }
            state = shared.lock();
            continue;
        }
        state = match state.earliest() {
            None => {
                state.wakes_at = None;
                shared.wake.wait(state).unwrap_or_else(|p| p.into_inner())
            }
            Some(at) => {
                let left = at.saturating_duration_since(now);
                state.wakes_at = Some(now + left);
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

    fn counter(count: &Arc<AtomicUsize>) -> OnTimeout {
        let count = count.clone();
        Box::new(move || {
            count.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn wait_for(count: &AtomicUsize, n: usize) {
        let waited = Instant::now();
        while count.load(Ordering::SeqCst) < n && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn it_fires_for_an_entry_still_armed_and_never_for_a_disarmed_one() {
        let fired = Arc::new(AtomicUsize::new(0));
        let watchdog = Watchdog::default();

        let disarmed = watchdog.arm(Duration::from_millis(30), counter(&fired));
        drop(disarmed);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(fired.load(Ordering::SeqCst), 0);

        // A later deadline needs no wake-up; an earlier one does. Both are kept to.
        let late = watchdog.arm(Duration::from_secs(60), counter(&fired));
        drop(late);
        let _armed = watchdog.arm(Duration::from_millis(20), counter(&fired));
        wait_for(&fired, 1);
        assert_eq!(fired.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn concurrent_entries_fire_alone_and_in_deadline_order() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let watchdog = Watchdog::default();
        let entry = |name: &'static str| -> OnTimeout {
            let order = order.clone();
            Box::new(move || order.lock().unwrap().push(name))
        };
        // Armed latest first: the thread must wake for each earlier one.
        let _slow = watchdog.arm(Duration::from_millis(90), entry("slow"));
        let healthy = watchdog.arm(Duration::from_millis(40), entry("healthy"));
        let _fast = watchdog.arm(Duration::from_millis(20), entry("fast"));
        drop(healthy);
        let waited = Instant::now();
        while order.lock().unwrap().len() < 2 && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(*order.lock().unwrap(), ["fast", "slow"]);
    }
}
