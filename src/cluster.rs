//! Union-find over verified edges, and the choice of the document each cluster keeps.
//!
//! The root of every set is its smallest document index, so cluster membership and
//! numbering depend only on the edges, never on the order they were added or the thread
//! count. Clusters are numbered by the input position of their first document.

use serde::{Deserialize, Serialize};

/// Disjoint sets over document indices `0..n`.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The representative (smallest index) of `x`'s set, compressing the path.
    pub fn find(&mut self, x: u32) -> u32 {
        let mut root = x;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        let mut cur = x;
        while self.parent[cur as usize] != root {
            let next = self.parent[cur as usize];
            self.parent[cur as usize] = root;
            cur = next;
        }
        root
    }

    /// Join the sets of `a` and `b`; returns false when they were already one set.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[high as usize] = low;
        true
    }
}

/// Which document of a cluster is kept; the others are its duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first in input order.
    First,
    /// The longest text (by characters); ties go to the first in input order.
    Longest,
}

/// Cluster number (by first appearance) of every document, and the kept document of each cluster.
pub struct Clusters {
    /// `cluster[i]`: the cluster number of document i, numbered 0.. by first appearance.
    pub cluster: Vec<u32>,
    /// `kept[c]`: index of the document cluster c keeps.
    pub kept: Vec<u32>,
    /// `size[c]`: number of documents in cluster c.
    pub size: Vec<u32>,
}

/// Number the sets of `uf` and pick each one's kept document by `keep` (`lengths[i]` in chars).
pub fn assign(uf: &mut UnionFind, keep: Keep, lengths: &[usize]) -> Clusters {
    let n = uf.len();
    let mut number_of_root = vec![u32::MAX; n];
    let mut cluster = Vec::with_capacity(n);
    let mut kept: Vec<u32> = Vec::new();
    let mut size: Vec<u32> = Vec::new();
    for i in 0..n as u32 {
        let root = uf.find(i);
        let c = if number_of_root[root as usize] == u32::MAX {
            let c = kept.len() as u32;
            number_of_root[root as usize] = c;
            kept.push(i);
            size.push(0);
            c
        } else {
            number_of_root[root as usize]
        };
        size[c as usize] += 1;
        if keep == Keep::Longest && lengths[i as usize] > lengths[kept[c as usize] as usize] {
            kept[c as usize] = i;
        }
        cluster.push(c);
    }
    Clusters {
        cluster,
        kept,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_known_answers() {
        let mut uf = UnionFind::new(6);
        assert!(uf.union(4, 2));
        assert!(uf.union(2, 5));
        assert!(!uf.union(5, 4));
        assert!(uf.union(0, 1));
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.find(1), 0);
        assert_eq!(uf.find(3), 3);
        let c = assign(&mut uf, Keep::First, &[1, 1, 1, 1, 1, 1]);
        assert_eq!(c.cluster, vec![0, 0, 1, 2, 1, 1]);
        assert_eq!(c.kept, vec![0, 2, 3]);
        assert_eq!(c.size, vec![2, 3, 1]);
    }

    #[test]
    fn keep_longest_breaks_ties_by_order() {
        let mut uf = UnionFind::new(3);
        uf.union(0, 1);
        uf.union(1, 2);
        let c = assign(&mut uf, Keep::Longest, &[5, 9, 9]);
        assert_eq!(c.kept, vec![1]);
    }
}
