//! CPU time and peak memory of the server under test, from Linux's `/proc`.
//!
//! A server may be several processes (nginx: a master and its workers), so everything is summed
//! over the process tree below the given PID. Elsewhere than Linux every reading is `None`.

use std::fs;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SEC: u64 = 100;

/// `pid` and all its descendants (read from the parent PIDs in `/proc/*/stat`).
pub fn tree(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, stat_fields(p)?.ppid)))
        .collect();
    if !parents.iter().any(|&(p, _)| p == pid) {
        return Vec::new();
    }
    let mut out = vec![pid];
    let mut i = 0;
    while let Some(&parent) = out.get(i) {
        out.extend(
            parents
                .iter()
                .filter(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    out
}

struct Stat {
    ppid: u32,
    /// utime + stime, in ticks (threads that have exited included).
    cpu_ticks: u64,
}

fn stat_fields(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Fields of a `/proc/<pid>/stat` line; the command name (in parentheses) may hold spaces.
fn parse_stat(line: &str) -> Option<Stat> {
    let after_name = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state): ppid is field 4, utime 14, stime 15.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        ppid: u32::try_from(field(4)?).ok()?,
        cpu_ticks: field(14)? + field(15)?,
    })
}

/// User + system CPU milliseconds the tree below `pid` has used so far.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let pids = tree(pid);
    if pids.is_empty() {
        return None;
    }
    let ticks: u64 = pids
        .iter()
        .filter_map(|&p| stat_fields(p))
        .map(|s| s.cpu_ticks)
        .sum();
    Some(ticks as f64 * 1000.0 / TICKS_PER_SEC as f64)
}

/// This process's own CPU milliseconds.
pub fn own_cpu_ms() -> Option<f64> {
    let stat = parse_stat(&fs::read_to_string("/proc/self/stat").ok()?)?;
    Some(stat.cpu_ticks as f64 * 1000.0 / TICKS_PER_SEC as f64)
}

/// Sum of `VmHWM` (peak resident set) over the tree below `pid`, in KiB.
pub fn vmhwm_kib(pid: u32) -> Option<u64> {
    let pids = tree(pid);
    if pids.is_empty() {
        return None;
    }
    Some(
        pids.iter()
            .filter_map(|p| fs::read_to_string(format!("/proc/{p}/status")).ok())
            .filter_map(|status| status_kib(&status, "VmHWM"))
            .sum(),
    )
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Resets the peak resident set of every process in the tree to its current size (writing 5 to
/// `/proc/<pid>/clear_refs`), so that the next [`vmhwm_kib`] tells the peak of what happened in
/// between. Best effort: false if any reset failed (not permitted, or not Linux).
pub fn reset_hwm(pid: u32) -> bool {
    let pids = tree(pid);
    !pids.is_empty()
        && pids
            .iter()
            .all(|p| fs::write(format!("/proc/{p}/clear_refs"), "5").is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (tokio (rt) x) S 17 4242 4242 0 -1 4194560 2000 0 0 0 250 75 0 0 20 0 \
                    9 0 12345 1000000 500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.ppid, 17);
        assert_eq!(stat.cpu_ticks, 325);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn status_values_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(2048));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_its_own_tree_and_has_a_peak() {
        let me = std::process::id();
        assert_eq!(tree(me).first(), Some(&me));
        assert!(vmhwm_kib(me).is_some_and(|k| k > 0));
        assert!(cpu_ms(me).is_some());
        assert!(tree(u32::MAX).is_empty());
    }
}
