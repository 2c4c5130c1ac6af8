//! Where a new worker thread starts running.
//!
//! Linux places a thread on its parent's CPU when it is created, and on this project's
//! 2-core test VM the load balancer then sometimes took tens of milliseconds to move it:
//! `perf sched timehist` of a 2-worker replay showed the reading thread and the worker
//! thread taking turns on CPU 0 in ~1 ms slices for the first 38 ms while CPU 1 ran nothing.
//! A worker that starts elsewhere avoids that. This is a nudge, not a pin: the thread is
//! moved to one CPU of its allowed set, then given that whole set back, so the scheduler
//! stays free to move it later (a hard pin, as Suricata's `cpu-affinity` does, would be an
//! operator's choice, not a default).
//!
//! No hand-written system calls: `nix` wraps `sched_getcpu` and `sched_{get,set}affinity`
//! (Linux only; elsewhere the scheduler places threads as it likes).

#[cfg(any(target_os = "linux", target_os = "android"))]
use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
#[cfg(any(target_os = "linux", target_os = "android"))]
use nix::unistd::Pid;

/// The CPU the calling thread runs on, when the system says.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn current_cpu() -> Option<usize> {
    sched_getcpu().ok()
}

/// The CPU the calling thread runs on: not known on this system.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn current_cpu() -> Option<usize> {
    None
}

/// The CPUs the calling thread may run on, in order.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn allowed() -> Option<(CpuSet, Vec<usize>)> {
    let mask = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let cpus = (0..CpuSet::count()).filter(|&c| mask.is_set(c).unwrap_or(false)).collect();
    Some((mask, cpus))
}

/// The CPU the `nth` (from 0) worker thread of a parent running on `parent` starts on:
/// the allowed CPUs in turn, beginning with the one after the parent's, so that with as
/// many threads as CPUs each gets its own and the parent's comes last.
pub fn start_cpu(cpus: &[usize], parent: usize, nth: usize) -> Option<usize> {
    let at = cpus.iter().position(|&c| c == parent).unwrap_or(cpus.len().saturating_sub(1));
    (cpus.len() > 1).then(|| cpus[(at + 1 + nth) % cpus.len()])
}

/// Moves the calling thread to the CPU [`start_cpu`] picks, then gives it back the CPUs
/// it was allowed. Returns the CPU it moved to; `None` when there is one CPU, the parent's
/// is unknown, or the system refuses (the thread then runs where it was, or, should only
/// the giving back fail, stays on the CPU it was moved to).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn spread(parent: Option<usize>, nth: usize) -> Option<usize> {
    let (mask, cpus) = allowed()?;
    let target = start_cpu(&cpus, parent?, nth)?;
    let mut one = CpuSet::new();
    one.set(target).ok()?;
    // Leaving the current CPU out of the mask moves the thread before the call returns.
    sched_setaffinity(Pid::from_raw(0), &one).ok()?;
    sched_setaffinity(Pid::from_raw(0), &mask).ok()?;
    Some(target)
}

/// Moves the calling thread: not done on this system.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn spread(_parent: Option<usize>, _nth: usize) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_start_on_the_other_cpus_first() {
        // 2 CPUs, parent on 0: the first worker goes to 1, then they alternate.
        let two = [0, 1];
        assert_eq!(start_cpu(&two, 0, 0), Some(1));
        assert_eq!(start_cpu(&two, 0, 1), Some(0));
        assert_eq!(start_cpu(&two, 0, 2), Some(1));
        assert_eq!(start_cpu(&two, 1, 0), Some(0));
        // 4 allowed CPUs that are not 0..4, parent on 5: 7, 9, then 3, then 5.
        let four = [3, 5, 7, 9];
        let got: Vec<_> = (0..4).map(|n| start_cpu(&four, 5, n).unwrap()).collect();
        assert_eq!(got, [7, 9, 3, 5]);
        // A parent outside the allowed set (it was moved): still every CPU in turn.
        let got: Vec<_> = (0..4).map(|n| start_cpu(&four, 2, n).unwrap()).collect();
        assert_eq!(got, [3, 5, 7, 9]);
        // One CPU: nowhere else to go.
        assert_eq!(start_cpu(&[4], 4, 0), None);
        assert_eq!(start_cpu(&[], 0, 0), None);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_spread_thread_keeps_its_whole_mask() {
        let (before, after, moved) = std::thread::spawn(|| {
            let before = allowed().map(|(_, c)| c);
            let moved = spread(current_cpu(), 0);
            (before, allowed().map(|(_, c)| c), moved)
        })
        .join()
        .unwrap();
        assert_eq!(before, after, "the allowed CPUs are given back");
        if let (Some(cpus), Some(to)) = (&before, moved) {
            assert!(cpus.contains(&to));
        }
    }
}
