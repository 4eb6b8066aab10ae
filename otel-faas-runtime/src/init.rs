//! The process's initialisation: when it started, when it was ready for its first event,
//! and whether its first invocation is a cold start.
//!
//! A cold start is the first invocation of a process Lambda started *for* it. Not counted:
//!
//! | start | how it is told |
//! |---|---|
//! | provisioned concurrency | `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency` |
//! | SnapStart restore | `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` |
//! | Lambda Managed Instances (environments initialised before traffic reaches them) | `AWS_LAMBDA_MAX_CONCURRENCY` above 1 |
//! | proactive initialisation (Lambda starts on-demand environments ahead of traffic) | the first event arrives more than [`PROACTIVE_GAP`] after the process was ready: nobody was waiting on that init |
//!
//! The process start is the kernel's (`/proc/self/stat` against `/proc/uptime`, so the time
//! before `main` counts); elsewhere, when telemetry was built.

use std::time::{Duration, SystemTime};

/// A first event later than this after readiness means the environment was initialised
/// ahead of traffic (the gap AWS's own proactive initialisation shows; no platform signal
/// says it).
pub(crate) const PROACTIVE_GAP: Duration = Duration::from_secs(10);

/// When this process started.
pub(crate) fn process_start() -> Option<SystemTime> {
    #[cfg(target_os = "linux")]
    {
        linux::process_start()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Whether a first invocation at `first_event` after readiness at `ready` is a cold start.
pub(crate) fn waited_on(ready: SystemTime, first_event: SystemTime) -> bool {
    first_event
        .duration_since(ready)
        .map_or(true, |gap| gap <= PROACTIVE_GAP)
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;

    /// Clock ticks per second of `/proc` times: `sysconf(_SC_CLK_TCK)`.
    fn ticks_per_second() -> Option<u64> {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(ticks).ok().filter(|t| *t > 0)
    }

    pub(super) fn process_start() -> Option<SystemTime> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        start_from(&stat, &uptime, ticks_per_second()?, SystemTime::now())
    }

    /// `now`, less how long the process has run: the system's uptime (`/proc/uptime`, to the
    /// hundredth of a second) less `starttime` (field 22 of `/proc/self/stat`, in ticks after
    /// boot). Not `btime` (`/proc/stat`) plus `starttime`: `btime` is whole seconds, which put
    /// the start up to a second early and every `faas.init_duration` up to a second long.
    pub(super) fn start_from(
        stat: &str,
        uptime: &str,
        ticks: u64,
        now: SystemTime,
    ) -> Option<SystemTime> {
        // The command name (field 2) may hold spaces and parentheses: count after its `)`.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let start_ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
        let up: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        let up = Duration::try_from_secs_f64(up).ok()?;
        let since_boot = Duration::from_millis(start_ticks.checked_mul(1000)? / ticks);
        now.checked_sub(up.saturating_sub(since_boot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_late_first_event_was_not_waited_on() {
        let ready = UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(waited_on(ready, ready + Duration::from_millis(5)));
        assert!(!waited_on(ready, ready + Duration::from_secs(60)));
        assert!(
            waited_on(ready, ready - Duration::from_secs(1)),
            "clock skew: counted"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_start_is_now_less_the_processs_age_to_the_hundredth() {
        let stat = "4242 (my (odd) fn) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10";
        // Up 130.45 s, started 123.45 s after boot: 7 s old, to the hundredth of a second
        // (with `btime`'s whole seconds it could have been up to 8 s).
        let uptime = "130.45 250.10\n";
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_250);
        let start = linux::start_from(stat, uptime, 100, now).unwrap();
        assert_eq!(now.duration_since(start).unwrap(), Duration::from_secs(7));
        // Both `/proc` clocks tick in hundredths: a young process may read as a few ticks
        // younger than it is.
        let now = SystemTime::now() + Duration::from_millis(30);
        let own = process_start().expect("readable on Linux");
        assert!(own <= now && now.duration_since(own).unwrap() < Duration::from_secs(24 * 3600));
    }
}
