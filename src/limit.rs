//! How much memory this process may use: the limit `max_memory_fraction`
//! takes its fraction of, read once when the pool is built.
//!
//! ```text
//!  cgroup v2   memory.max of the process's cgroup and every ancestor      "max" = no limit
//!  cgroup v1   memory/…/memory.limit_in_bytes, the cgroup and its ancestors   ≥ 2^60 = none
//!  and         /proc/meminfo MemTotal                                     physical RAM
//!  limit = the smallest of them
//! ```
//!
//! A cgroup's memory is bounded by every cgroup above it (systemd puts a
//! `MemoryMax` on a slice, the service below it says "max"), and no
//! limit means more than the machine has. The cgroup directory comes from
//! `/proc/self/cgroup`; the walk ends at the cgroup filesystem root
//! (`/sys/fs/cgroup`), which is where a container with its own cgroup
//! namespace sees its limit. Every path is taken relative to a root
//! directory, so tests run against a fake tree.
//!
//! Owns nothing: it reads cgroup files and `/proc/meminfo`. Calls nothing.
//! Called by the builder (`max_memory_fraction`).

use std::fs;
use std::path::{Path, PathBuf};

/// cgroup v1 writes a huge number (page-rounded `i64::MAX`) for "no limit".
const V1_UNLIMITED: u64 = 1 << 60;

/// The memory limit of this process as seen under `root` (`/` normally).
pub(crate) fn memory_limit(root: &Path) -> Option<u64> {
    let cgroup = cgroup_v2(root).or_else(|| cgroup_v1(root));
    match (cgroup, physical(root)) {
        (Some(cgroup), Some(physical)) => Some(cgroup.min(physical)),
        (cgroup, physical) => cgroup.or(physical),
    }
}

/// The process's cgroup directory under `base` and each of its ancestors,
/// `base` included.
fn cgroup_and_ancestors(base: &Path, own: Option<String>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(own) = own {
        let mut dir = base.join(own);
        while dir != base && dir.starts_with(base) {
            dirs.push(dir.clone());
            if !dir.pop() {
                break;
            }
        }
    }
    dirs.push(base.to_path_buf());
    dirs
}

/// This process's cgroup paths from `/proc/self/cgroup`: the v2 entry
/// (`0::/path`) and the v1 memory controller's (`N:memory:/path`).
fn own_cgroups(root: &Path) -> (Option<String>, Option<String>) {
    let Ok(text) = fs::read_to_string(root.join("proc/self/cgroup")) else {
        return (None, None);
    };
    let (mut v2, mut v1) = (None, None);
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path.trim_start_matches('/').to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = Some(path.trim_start_matches('/').to_string());
        }
    }
    (v2, v1)
}

fn read_number(path: PathBuf) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn cgroup_v2(root: &Path) -> Option<u64> {
    let base = root.join("sys/fs/cgroup");
    // A limit file that says "max" (not a number) limits nothing there.
    cgroup_and_ancestors(&base, own_cgroups(root).0)
        .into_iter()
        .filter_map(|dir| read_number(dir.join("memory.max")))
        .min()
}

fn cgroup_v1(root: &Path) -> Option<u64> {
    let base = root.join("sys/fs/cgroup/memory");
    cgroup_and_ancestors(&base, own_cgroups(root).1)
        .into_iter()
        .filter_map(|dir| read_number(dir.join("memory.limit_in_bytes")))
        .filter(|&limit| limit < V1_UNLIMITED)
        .min()
}

fn physical(root: &Path) -> Option<u64> {
    let text = fs::read_to_string(root.join("proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(all(test, not(tidebuf_loom)))]
mod tests {
    use super::*;

    /// A fake root with the given files.
    fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("tidebuf-limit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (path, text) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        root
    }

    const MEMINFO: (&str, &str) = (
        "proc/meminfo",
        "MemTotal:       16384000 kB\nMemFree:  1 kB\n",
    );

    #[test]
    fn cgroup_v2_own_group_first() {
        let root = tree(
            "v2",
            &[
                ("proc/self/cgroup", "0::/kubepods/pod1/ctr\n"),
                ("sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "4294967296\n"),
                ("sys/fs/cgroup/memory.max", "max\n"),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(4 << 30));
    }

    #[test]
    fn cgroup_v2_namespace_root_and_max_means_none() {
        let root = tree(
            "v2root",
            &[
                ("proc/self/cgroup", "0::/\n"),
                ("sys/fs/cgroup/memory.max", "2147483648\n"),
            ],
        );
        assert_eq!(memory_limit(&root), Some(2 << 30));
        let root = tree(
            "v2max",
            &[
                ("proc/self/cgroup", "0::/\n"),
                ("sys/fs/cgroup/memory.max", "max\n"),
                MEMINFO,
            ],
        );
        assert_eq!(
            memory_limit(&root),
            Some(16384000 * 1024),
            "no cgroup limit: physical RAM"
        );
    }

    #[test]
    fn cgroup_v1_and_its_unlimited_value() {
        let root = tree(
            "v1",
            &[
                (
                    "proc/self/cgroup",
                    "12:cpu,cpuacct:/x\n11:memory:/docker/abc\n",
                ),
                (
                    "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                    "1073741824\n",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(1 << 30));
        let root = tree(
            "v1none",
            &[
                ("proc/self/cgroup", "11:memory:/\n"),
                (
                    "sys/fs/cgroup/memory/memory.limit_in_bytes",
                    "9223372036854771712\n",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(16384000 * 1024));
    }

    #[test]
    fn a_limit_on_an_ancestor_bounds_the_cgroup_below_it() {
        // systemd: `MemoryMax=1G` on the slice, the service itself "max".
        let root = tree(
            "v2parent",
            &[
                (
                    "proc/self/cgroup",
                    "0::/app.slice/web.service
",
                ),
                (
                    "sys/fs/cgroup/app.slice/web.service/memory.max",
                    "max
",
                ),
                (
                    "sys/fs/cgroup/app.slice/memory.max",
                    "1073741824
",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(1 << 30));
        // The smallest of several.
        let root = tree(
            "v2nested",
            &[
                (
                    "proc/self/cgroup",
                    "0::/a/b/c
",
                ),
                (
                    "sys/fs/cgroup/a/b/c/memory.max",
                    "3221225472
",
                ),
                (
                    "sys/fs/cgroup/a/b/memory.max",
                    "2147483648
",
                ),
                (
                    "sys/fs/cgroup/a/memory.max",
                    "8589934592
",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(2 << 30));
        // cgroup v1 likewise.
        let root = tree(
            "v1parent",
            &[
                (
                    "proc/self/cgroup",
                    "11:memory:/docker/abc
",
                ),
                (
                    "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                    "9223372036854771712
",
                ),
                (
                    "sys/fs/cgroup/memory/docker/memory.limit_in_bytes",
                    "536870912
",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(512 << 20));
    }

    #[test]
    fn a_cgroup_limit_above_the_machine_is_the_machine() {
        let root = tree(
            "v2big",
            &[
                (
                    "proc/self/cgroup",
                    "0::/big
",
                ),
                (
                    "sys/fs/cgroup/big/memory.max",
                    "1099511627776
",
                ),
                MEMINFO,
            ],
        );
        assert_eq!(memory_limit(&root), Some(16384000 * 1024));
    }

    #[test]
    fn nothing_readable() {
        assert_eq!(memory_limit(&tree("empty", &[])), None);
        assert_eq!(
            memory_limit(&tree("garbage", &[("proc/meminfo", "MemTotal: lots\n")])),
            None
        );
    }

    #[test]
    fn this_machine_has_a_limit() {
        assert!(memory_limit(Path::new("/")).is_some_and(|l| l > 0));
    }
}
