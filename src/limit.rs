//! How much memory this process may use: the limit `max_memory_fraction`
//! takes its fraction of, read once when the pool is built.
//!
//! ```text
//!  cgroup v2   <cgroup dir>/memory.max            "max" = no limit
//!  cgroup v1   memory/<cgroup dir>/memory.limit_in_bytes   ≥ 2^60 = no limit
//!  otherwise   /proc/meminfo MemTotal             physical RAM
//! ```
//!
//! The cgroup directory comes from `/proc/self/cgroup`; the cgroup
//! filesystem root (`/sys/fs/cgroup`) is tried as well, which is where a
//! container with its own cgroup namespace sees its limit. Every path is
//! taken relative to a root directory, so tests run against a fake tree.
//!
//! Owns nothing: it reads cgroup files and `/proc/meminfo`. Calls nothing.
//! Called by the builder (`max_memory_fraction`).

use std::fs;
use std::path::{Path, PathBuf};

/// cgroup v1 writes a huge number (page-rounded `i64::MAX`) for "no limit".
const V1_UNLIMITED: u64 = 1 << 60;

/// The memory limit of this process as seen under `root` (`/` normally).
pub(crate) fn memory_limit(root: &Path) -> Option<u64> {
    cgroup_v2(root)
        .or_else(|| cgroup_v1(root))
        .or_else(|| physical(root))
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
    let own = own_cgroups(root).0.map(|p| base.join(p));
    // A limit file that says "max" means no limit here: keep looking.
    own.into_iter()
        .chain([base])
        .find_map(|dir| read_number(dir.join("memory.max")))
}

fn cgroup_v1(root: &Path) -> Option<u64> {
    let base = root.join("sys/fs/cgroup/memory");
    let own = own_cgroups(root).1.map(|p| base.join(p));
    own.into_iter()
        .chain([base])
        .find_map(|dir| read_number(dir.join("memory.limit_in_bytes")))
        .filter(|&limit| limit < V1_UNLIMITED)
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
