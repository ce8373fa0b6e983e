//! Chunks of an arena grouped by usage, so allocation prefers fuller chunks
//! (emptier ones get the chance to drain and be given back) and empty chunks
//! are found without a scan.
//!
//! ```text
//! group   Empty   Q0        Q25        Q50        Q75        Full
//! usage   0 %     (0,25) %  [25,50) %  [50,75) %  [75,100) % 100 %
//! search  5th     3rd       2nd        1st        4th        never
//! ```
//!
//! Like Netty's `q050 → q025 → q000 → qInit → q075`: half-used chunks are
//! tried first; nearly-full ones last among the used, because they are the
//! likeliest to fail the request; an empty chunk only when no used one fits.
//! Unlike Netty, an empty chunk is always in `Empty`, where the trim policy
//! can find and release it (Netty's `qInit` never releases its chunks).
//!
//! Each group is a `Vec` of chunk slots; a chunk remembers its position, so
//! moving between groups is O(1) (`swap_remove`).
//!
//! Owns the usage groups of one arena's chunks. Calls nothing. Called by the
//! arena tables.

/// A usage group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Empty = 0,
    Q0 = 1,
    Q25 = 2,
    Q50 = 3,
    Q75 = 4,
    Full = 5,
}

/// Groups in the order allocation searches them.
pub(crate) const SEARCH_ORDER: [Group; 5] =
    [Group::Q50, Group::Q25, Group::Q0, Group::Q75, Group::Empty];

impl Group {
    /// The group of a chunk with `free` of `pages` pages free.
    pub(crate) fn of(free: u32, pages: u32) -> Group {
        let used = pages - free;
        if used == 0 {
            Group::Empty
        } else if free == 0 {
            Group::Full
        } else {
            match used as u64 * 4 / pages as u64 {
                0 => Group::Q0,
                1 => Group::Q25,
                2 => Group::Q50,
                _ => Group::Q75,
            }
        }
    }
}

/// Where a chunk sits: its group and its index in that group's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) group: Group,
    pub(crate) pos: u32,
}

/// The six lists of chunk slots.
#[derive(Debug, Default)]
pub(crate) struct ChunkGroups {
    lists: [Vec<u32>; 6],
}

impl ChunkGroups {
    /// Slots in `group`, in list order.
    pub(crate) fn list(&self, group: Group) -> &[u32] {
        &self.lists[group as usize]
    }

    /// Appends `slot` to `group`; returns its place.
    pub(crate) fn insert(&mut self, slot: u32, group: Group) -> Place {
        let list = &mut self.lists[group as usize];
        list.push(slot);
        Place {
            group,
            pos: (list.len() - 1) as u32,
        }
    }

    /// Removes the chunk at `place`; returns the slot that moved into its
    /// position (its place's `pos` must be updated to `place.pos`), if any.
    pub(crate) fn remove(&mut self, place: Place) -> Option<u32> {
        let list = &mut self.lists[place.group as usize];
        list.swap_remove(place.pos as usize);
        list.get(place.pos as usize).copied()
    }

    /// Total chunks in all groups.
    #[cfg(any(test, feature = "debug-checks"))]
    pub(crate) fn len(&self) -> usize {
        self.lists.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_quarter() {
        assert_eq!(Group::of(512, 512), Group::Empty);
        assert_eq!(Group::of(511, 512), Group::Q0);
        assert_eq!(Group::of(384, 512), Group::Q25);
        assert_eq!(Group::of(256, 512), Group::Q50);
        assert_eq!(Group::of(128, 512), Group::Q75);
        assert_eq!(Group::of(1, 512), Group::Q75);
        assert_eq!(Group::of(0, 512), Group::Full);
    }

    #[test]
    fn remove_reports_the_moved_slot() {
        let mut g = ChunkGroups::default();
        let a = g.insert(10, Group::Q0);
        g.insert(11, Group::Q0);
        g.insert(12, Group::Q0);
        assert_eq!(g.remove(a), Some(12));
        assert_eq!(g.list(Group::Q0), &[12, 11]);
        assert_eq!(g.len(), 2);
    }
}
