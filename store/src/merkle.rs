//! The Merkle tree over the log's record hashes (`docs/merkle.md`): RFC 9162 §2.1 with BLAKE3
//! in place of SHA-256, its proofs (§2.1.3, §2.1.4) and their verification (§2.1.3.2,
//! §2.1.4.2).
//!
//! Everything here is pure: proofs are computed over any [`NodeSource`] (the store's tiles in
//! `tiles.rs`, or leaves in memory), and the verifiers need nothing but the proof, so an
//! auditor can use them offline.

use crate::hash::Hash32;

/// The byte in front of a leaf's input (RFC 9162 §2.1.1).
pub const LEAF_PREFIX: u8 = 0x00;
/// The byte in front of an interior node's input.
pub const NODE_PREFIX: u8 = 0x01;
/// The most hashes a proof can hold: one per level of a tree of 2^64 leaves.
pub const PROOF_HASHES_MAX: usize = 64;

/// `BLAKE3(0x00 || record_hash)`: the leaf of the record whose `hash` is `record_hash`.
pub fn leaf_hash(record_hash: &Hash32) -> Hash32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEAF_PREFIX]);
    hasher.update(&record_hash.to_bytes());
    Hash32::from_bytes(*hasher.finalize().as_bytes())
}

/// `BLAKE3(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut input = [0u8; 65];
    input[0] = NODE_PREFIX;
    input[1..33].copy_from_slice(&left.to_bytes());
    input[33..].copy_from_slice(&right.to_bytes());
    Hash32::from_bytes(*blake3::hash(&input).as_bytes())
}

/// The root of the empty tree: `BLAKE3("")`.
pub fn empty_root() -> Hash32 {
    Hash32::from_bytes(*blake3::hash(b"").as_bytes())
}

/// The root of a perfect subtree whose leaves (or nodes of one level) are `hashes`, whose
/// length must be a power of two.
pub fn perfect_root(hashes: &[Hash32]) -> Hash32 {
    assert!(hashes.len().is_power_of_two(), "a perfect subtree has 2^k nodes");
    if hashes.len() == 1 {
        return hashes[0];
    }
    // Fold in one buffer, each level over the first half of the one before.
    let mut level: Vec<Hash32> = hashes
        .chunks_exact(2)
        .map(|pair| node_hash(&pair[0], &pair[1]))
        .collect();
    let mut width = level.len();
    while width > 1 {
        for i in 0..width / 2 {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        width /= 2;
    }
    level[0]
}

/// The root of the tree over `leaves` (leaf hashes, not record hashes): RFC 9162's MTH,
/// computed in memory. For offline checks of an export and for tests.
pub fn root_of_leaves(leaves: &[Hash32]) -> Hash32 {
    let mut source = LeavesInMemory(leaves);
    if leaves.is_empty() {
        return empty_root();
    }
    match range_hash(&mut source, 0, leaves.len() as u64) {
        Ok(root) => root,
        Err(never) => match never {},
    }
}

/// Where proofs read the hashes of perfect subtrees from.
pub trait NodeSource {
    type Error;
    /// The hash of the perfect subtree at `level` (0 = leaves) and `index` (from the left),
    /// covering leaves `index * 2^level .. (index + 1) * 2^level`. Asked only for subtrees
    /// that are complete in the tree the proof is about.
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash32, Self::Error>;
}

/// Leaf hashes in memory as a [`NodeSource`] (each node computed from its leaves).
pub struct LeavesInMemory<'a>(pub &'a [Hash32]);

impl NodeSource for LeavesInMemory<'_> {
    type Error = std::convert::Infallible;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash32, Self::Error> {
        let width = 1usize << level;
        let start = index as usize * width;
        Ok(perfect_root(&self.0[start..start + width]))
    }
}

/// The largest power of two smaller than `n` (n ≥ 2): RFC 9162's split point `k`.
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `start..end` (end > start). Reads one perfect subtree per set bit of the
/// range's size when `start` is aligned, as it always is in the proofs below.
pub fn range_hash<S: NodeSource>(source: &mut S, start: u64, end: u64) -> Result<Hash32, S::Error> {
    let n = end - start;
    assert!(n > 0, "an empty range has no subtree hash");
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return source.perfect(level, start >> level);
    }
    let k = split_point(n);
    let left = range_hash(source, start, start + k)?;
    let right = range_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(source: &mut S, size: u64) -> Result<Hash32, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(source, 0, size)
}

/// RFC 9162 §2.1.3.1 `PATH(index, D[size])`, leaf side first. `index < size`.
pub fn inclusion_proof<S: NodeSource>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash32>, S::Error> {
    assert!(index < size, "the leaf must be in the tree");
    let mut proof = Vec::with_capacity(64 - size.leading_zeros() as usize);
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: NodeSource>(
    source: &mut S,
    index: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash32>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if index < start + k {
        path(source, index, start, start + k, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        path(source, index, start + k, end, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 `PROOF(old_size, D[new_size])`. `old_size <= new_size`; empty when
/// `old_size` is 0 or equals `new_size`.
pub fn consistency_proof<S: NodeSource>(
    source: &mut S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash32>, S::Error> {
    assert!(old_size <= new_size, "a tree cannot shrink");
    let mut proof = Vec::with_capacity(2 * (64 - new_size.leading_zeros() as usize));
    if old_size > 0 {
        subproof(source, old_size, 0, new_size, true, &mut proof)?;
    }
    Ok(proof)
}

/// `SUBPROOF(m, D[start:end], whole_old_tree)`, with `m` counted from `start`.
fn subproof<S: NodeSource>(
    source: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole_old_tree: bool,
    out: &mut Vec<Hash32>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole_old_tree {
            out.push(range_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, start + k, whole_old_tree, out)?;
        out.push(range_hash(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, out)?;
        out.push(range_hash(source, start, start + k)?);
    }
    Ok(())
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The sizes or index do not make sense together (index ≥ size, old size > new size).
    #[error("invalid proof request: {0}")]
    InvalidInput(&'static str),
    /// The proof has too many or too few hashes for the sizes it claims.
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    /// The proof's hashes lead to another root than the one given.
    #[error("the proof does not lead to the given root")]
    RootMismatch,
}

/// RFC 9162 §2.1.3.2: checks that `leaf` (a leaf hash) is at `index` of the tree of `size`
/// leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::InvalidInput(
            "the leaf index is not below the tree size",
        ));
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
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
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: checks that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`.
///
/// Beyond the RFC's algorithm (which assumes `0 < old_size < new_size`): equal sizes need an
/// empty proof and equal roots; an old size of 0 (the empty tree is a prefix of every tree)
/// needs an empty proof and `old_root` = the empty root; `old_size > new_size` fails.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::InvalidInput(
            "the old tree is larger than the new one",
        ));
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if *old_root != empty_root() {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash32> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
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
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
