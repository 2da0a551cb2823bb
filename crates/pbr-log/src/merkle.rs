//! The Merkle tree of RFC 9162 §2.1 over the record bytes, with SHA-256 as `HASH` (format 2).
//!
//! Nothing here reads storage directly: proofs are generated from any [`NodeSource`], a view
//! of the *complete* subtrees of the tree (those covering `2^level` leaves starting at a
//! multiple of `2^level`). Every subtree hash that RFC 9162's recursion asks for is either such
//! a complete subtree or a right edge that folds from at most `log2(n)` of them, so a proof
//! costs `O(log n)` node reads, never a scan of the leaves.
//!
//! Invariant: the hash of a one-leaf tree is the leaf hash itself, not hashed again.

use crate::hash::{Hash, empty_root, node_hash};

/// Read access to the hashes of complete subtrees.
pub trait NodeSource {
    /// The error of the underlying storage.
    type Error;
    /// The hash of the complete subtree of height `level` whose leftmost leaf is
    /// `index << level`. Level 0 is the leaf hash.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` for a range that RFC 9162's recursion can produce: `start` is a multiple
/// of the largest power of two not exceeding `end - start`.
pub fn subtree_hash<S: NodeSource>(source: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let size = end - start;
    if size == 0 {
        return Ok(empty_root());
    }
    if size.is_power_of_two() && start.is_multiple_of(size) {
        return source.node(size.trailing_zeros(), start >> size.trailing_zeros());
    }
    let k = split_point(size);
    let left = subtree_hash(source, start, start + k)?;
    let right = subtree_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(source: &S, size: u64) -> Result<Hash, S::Error> {
    subtree_hash(source, 0, size)
}

/// The inclusion proof `PATH(leaf_index, D[0:tree_size])` of RFC 9162 §2.1.3.1, deepest
/// sibling first. The caller checks `leaf_index < tree_size`.
pub fn inclusion_proof<S: NodeSource>(
    source: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, S::Error> {
    debug_assert!(leaf_index < tree_size);
    let mut path = Vec::new();
    inclusion_path(source, leaf_index, 0, tree_size, &mut path)?;
    Ok(path)
}

fn inclusion_path<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        inclusion_path(source, m, start, start + k, path)?;
        path.push(subtree_hash(source, start + k, end)?);
    } else {
        inclusion_path(source, m - k, start + k, end, path)?;
        path.push(subtree_hash(source, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof `PROOF(first, D[0:second])` of RFC 9162 §2.1.4.1. Empty when
/// `first == 0` or `first == second`. The caller checks `first <= second`.
pub fn consistency_proof<S: NodeSource>(
    source: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, S::Error> {
    debug_assert!(first <= second);
    let mut path = Vec::new();
    if first > 0 && first < second {
        subproof(source, first, 0, second, true, &mut path)?;
    }
    Ok(path)
}

fn subproof<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    path: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            path.push(subtree_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, start + k, whole, path)?;
        path.push(subtree_hash(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, path)?;
        path.push(subtree_hash(source, start, start + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof as RFC 9162 §2.1.3.2 prescribes.
///
/// The path binds the leaf to `root`, not to `tree_size`: every size whose tree gives the
/// leaf a path of the same shape accepts it (as in every RFC 9162 verifier), so the caller
/// takes `tree_size` and `root` together from a signed checkpoint.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut fn_, mut sn) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// Verifies a consistency proof as RFC 9162 §2.1.4.2 prescribes, with the two edge cases of
/// DESIGN §3: `first == second` needs an empty path and equal roots; `first == 0` needs an
/// empty path and `first_root = SHA-256("")`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == 0 {
        return path.is_empty() && *first_root == empty_root();
    }
    if first == second {
        return path.is_empty() && first_root == second_root;
    }
    if path.is_empty() {
        return false;
    }
    let mut nodes: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        nodes.push(*first_root);
    }
    nodes.extend_from_slice(path);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = nodes[0];
    let mut sr = nodes[0];
    for c in &nodes[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *first_root && sr == *second_root && sn == 0
}

/// The right edge of a growing tree: the roots of its complete subtrees, largest first.
///
/// Appending a leaf touches only this edge, never the rest of the tree, and reports every
/// complete subtree it closes so that storage can keep them for proofs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `edge[j]` is the complete subtree for the j-th set bit of `size`, from the highest.
    edge: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Loads the frontier of the tree of `size` leaves from its complete subtrees.
    pub fn load<S: NodeSource>(source: &S, size: u64) -> Result<Frontier, S::Error> {
        let mut edge = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64).rev() {
            if size & (1 << level) != 0 {
                edge.push(source.node(level, start >> level)?);
                start += 1 << level;
            }
        }
        Ok(Frontier { size, edge })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf and calls `closed(level, index, hash)` for every complete subtree this
    /// closes, the leaf itself (level 0) first.
    pub fn push(&mut self, leaf: Hash, mut closed: impl FnMut(u32, u64, &Hash)) {
        let mut hash = leaf;
        let mut index = self.size;
        let mut level = 0;
        closed(level, index, &hash);
        while index & 1 == 1 {
            // Invariant: an odd index means its left sibling is the last edge entry.
            let left = self
                .edge
                .pop()
                .expect("frontier holds the left sibling of an odd node");
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            closed(level, index, &hash);
        }
        self.edge.push(hash);
        self.size += 1;
    }

    /// The Merkle root of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.edge.iter().rev();
        match nodes.next() {
            None => empty_root(),
            Some(last) => nodes.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

/// An in-memory tree of every complete subtree, for tests and for small tools.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        self.frontier.push(leaf, |level, index, hash| {
            let level = level as usize;
            if levels.len() <= level {
                levels.push(Vec::new());
            }
            debug_assert_eq!(levels[level].len() as u64, index);
            levels[level].push(*hash);
        });
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl NodeSource for MemoryTree {
    type Error = std::convert::Infallible;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        // Callers only ask for complete subtrees inside the tree; this is a test helper.
        Ok(self.levels[level as usize][index as usize])
    }
}
