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
//! The process start is the kernel's (`/proc/self/stat`, so the time before `main` counts);
//! elsewhere, when telemetry was built.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        start_from(&stat, &boot, ticks_per_second()?)
    }

    /// `starttime` (field 22 of `/proc/self/stat`, in ticks after boot) plus `btime` (boot,
    /// seconds since the epoch, from `/proc/stat`).
    pub(super) fn start_from(stat: &str, boot: &str, ticks: u64) -> Option<SystemTime> {
        // The command name (field 2) may hold spaces and parentheses: count after its `)`.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let start_ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
        let boot_secs: u64 = boot
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        let since_boot = Duration::from_millis(start_ticks.checked_mul(1000)? / ticks);
        Some(UNIX_EPOCH + Duration::from_secs(boot_secs) + since_boot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_start_is_read_from_proc() {
        let stat = "4242 (my (odd) fn) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10";
        let boot = "cpu  1 2 3\nbtime 1800000000\nprocesses 10\n";
        let start = linux::start_from(stat, boot, 100).unwrap();
        assert_eq!(
            start,
            UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + 123_450)
        );
        let now = SystemTime::now();
        let own = process_start().expect("readable on Linux");
        assert!(own <= now && now.duration_since(own).unwrap() < Duration::from_secs(24 * 3600));
    }
}
