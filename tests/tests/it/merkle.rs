//! The Merkle tree (`docs/merkle.md`): the store's roots and proofs against a straightforward
//! recursive reference of RFC 9162's MTH, PATH and PROOF, the verifiers against forged
//! proofs, the tiles across a reopen and a rebuild, and the test vectors of the spec.

use govrec_store::merkle::{
    self, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion, LeavesInMemory,
};
use govrec_store::{Hash32, Store};
use proptest::prelude::*;

use crate::support::*;

/// RFC 9162 §2.1.1–§2.1.4, written as the RFC writes them, over leaf hashes in memory.
mod reference {
    use super::*;

    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn mth(d: &[Hash32]) -> Hash32 {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    pub fn path(m: usize, d: &[Hash32]) -> Vec<Hash32> {
        let n = d.len();
        if n == 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    pub fn proof(m: usize, d: &[Hash32]) -> Vec<Hash32> {
        if m == 0 {
            return vec![];
        }
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Hash32], b: bool) -> Vec<Hash32> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
}

/// A small deterministic generator, so the trees are random but the test repeatable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn hash(&mut self) -> Hash32 {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        Hash32::from_bytes(bytes)
    }
}

/// A store of `records` records appended in batches of random size (1 to 14 events).
fn store_with(records: u64, seed: u64) -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store();
    let mut random = XorShift(seed);
    let mut next_id = 1_000;
    while store.head().next_seq < records {
        let left = (records - store.head().next_seq) / 2;
        let pairs = (random.next() % 7 + 1).min(left.max(1));
        let mut batch = Vec::new();
        for _ in 0..pairs {
            batch.extend(county_and_town(uuid_of(next_id), uuid_of(next_id + 1), "测试"));
            next_id += 2;
        }
        if store.head().next_seq + batch.len() as u64 > records {
            batch.truncate(1);
        }
        store.append("recorder", batch).unwrap();
    }
    (dir, store)
}

fn leaves_of(store: &Store) -> Vec<Hash32> {
    store
        .read_range(0, store.head().next_seq as usize)
        .unwrap()
        .iter()
        .map(|record| leaf_hash(&record.hash))
        .collect()
}

#[test]
fn the_stores_roots_and_proofs_equal_the_reference_for_every_pair_up_to_300() {
    let (_dir, store) = store_with(300, 0x9e37_79b9_7f4a_7c15);
    let leaves = leaves_of(&store);
    assert_eq!(leaves.len(), 300);
    assert_eq!(store.merkle_root(0).unwrap(), empty_root());
    for size in 1..=300usize {
        let root = reference::mth(&leaves[..size]);
        assert_eq!(store.merkle_root(size as u64).unwrap(), root, "root of {size}");
        for index in 0..size {
            let proof = store.inclusion_proof(index as u64, size as u64).unwrap();
            assert_eq!(
                proof,
                reference::path(index, &leaves[..size]),
                "PATH({index}, {size})"
            );
            verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &root).unwrap();
        }
        for old in 0..=size {
            let proof = store.consistency_proof(old as u64, size as u64).unwrap();
            assert_eq!(
                proof,
                reference::proof(old, &leaves[..size]),
                "PROOF({old}, {size})"
            );
            let old_root = reference::mth(&leaves[..old]);
            verify_consistency(old as u64, size as u64, &old_root, &root, &proof).unwrap();
        }
    }
}

#[test]
fn proofs_over_random_leaves_equal_the_reference_and_verify() {
    let mut random = XorShift(0x2545_f491_4f6c_dd1d);
    let leaves: Vec<Hash32> = (0..300).map(|_| random.hash()).collect();
    for size in 1..=300usize {
        let d = &leaves[..size];
        let root = reference::mth(d);
        let mut source = LeavesInMemory(d);
        assert_eq!(merkle::root(&mut source, size as u64).unwrap(), root);
        assert_eq!(merkle::root_of_leaves(d), root);
        for index in 0..size {
            let proof = merkle::inclusion_proof(&mut source, index as u64, size as u64).unwrap();
            assert_eq!(proof, reference::path(index, d));
            verify_inclusion(index as u64, size as u64, &d[index], &proof, &root).unwrap();
        }
        for old in 0..=size {
            let proof = merkle::consistency_proof(&mut source, old as u64, size as u64).unwrap();
            assert_eq!(proof, reference::proof(old, d));
            let old_root = reference::mth(&d[..old]);
            verify_consistency(old as u64, size as u64, &old_root, &root, &proof).unwrap();
        }
    }
}

#[test]
fn the_tree_survives_a_reopen_and_is_rebuilt_when_its_tiles_are_lost() {
    let dir = tempfile::tempdir().unwrap();
    let root;
    {
        let (_scratch, source) = store_with(600, 7);
        let mut out = Vec::new();
        govrec_store::export_jsonl(source.log(), None, &mut out).unwrap();
        // Import builds the tree too.
        let store = open(dir.path());
        govrec_store::import_jsonl(&store, std::io::Cursor::new(&out), "x").unwrap();
        root = store.merkle_root(600).unwrap();
        assert_eq!(root, source.merkle_root(600).unwrap());
        assert_eq!(root, reference::mth(&leaves_of(&store)));
    }
    let store = open(dir.path());
    assert_eq!(store.merkle_root(600).unwrap(), root);
    // The unfinished leaf tile (records 512..600) is not stored: the reopened store rebuilt it
    // from the records, and goes on from it across the next tile boundary (768).
    for n in 0..100u64 {
        store
            .append(
                "recorder",
                county_and_town(uuid_of(90_000 + 2 * n), uuid_of(90_001 + 2 * n), "续"),
            )
            .unwrap();
    }
    let leaves = leaves_of(&store);
    assert_eq!(leaves.len(), 800);
    for size in [600usize, 767, 768, 769, 800] {
        let expected = reference::mth(&leaves[..size]);
        assert_eq!(
            store.merkle_root(size as u64).unwrap(),
            expected,
            "root of {size}"
        );
        for index in [0, 511, 512, size - 1] {
            let proof = store.inclusion_proof(index as u64, size as u64).unwrap();
            verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &expected).unwrap();
        }
    }
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.merkle_root(800).unwrap(), reference::mth(&leaves));
    let root = store.merkle_root(600).unwrap();
    drop(store);
    {
        let db = sled::Config::new()
            .path(dir.path())
            .segment_size(govrec_store::SLED_SEGMENT_BYTES)
            .open()
            .unwrap();
        db.open_tree("merkle").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.merkle_root(600).unwrap(), root);
    let proof = store.inclusion_proof(300, 600).unwrap();
    verify_inclusion(300, 600, &leaves_of(&store)[300], &proof, &root).unwrap();
}

#[test]
fn sizes_beyond_the_head_and_bad_indexes_are_refused() {
    let (_dir, store) = store_with(10, 3);
    assert!(store.merkle_root(11).is_err());
    assert!(store.inclusion_proof(10, 10).is_err());
    assert!(store.inclusion_proof(0, 11).is_err());
    assert!(store.consistency_proof(5, 11).is_err());
    assert!(store.consistency_proof(6, 5).is_err());
}

/// 300 random leaves, and a function giving the root of the tree of their first n.
fn random_tree(seed: u64) -> (Vec<Hash32>, impl Fn(usize) -> Hash32) {
    let mut random = XorShift(seed | 1);
    let leaves: Vec<Hash32> = (0..300).map(|_| random.hash()).collect();
    let copy = leaves.clone();
    (leaves, move |n: usize| reference::mth(&copy[..n]))
}

#[derive(Debug, Clone)]
enum Forgery {
    FlipByte { hash: usize, byte: usize, bit: u8 },
    Truncate,
    Extend(u64),
    OtherSize(usize),
    OtherIndex(usize),
    OtherLeaf,
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        (any::<usize>(), 0..32usize, 0..8u8).prop_map(|(hash, byte, bit)| Forgery::FlipByte {
            hash,
            byte,
            bit
        }),
        Just(Forgery::Truncate),
        any::<u64>().prop_map(Forgery::Extend),
        any::<usize>().prop_map(Forgery::OtherSize),
        any::<usize>().prop_map(Forgery::OtherIndex),
        Just(Forgery::OtherLeaf),
    ]
}

/// `hash` with bit `bit` of byte `byte` flipped.
fn flipped(hash: Hash32, byte: usize, bit: u8) -> Hash32 {
    let mut bytes = hash.to_bytes();
    bytes[byte] ^= 1 << bit;
    Hash32::from_bytes(bytes)
}

fn flip(proof: &mut [Hash32], hash: usize, byte: usize, bit: u8) {
    let at = hash % proof.len();
    proof[at] = flipped(proof[at], byte, bit);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn forged_inclusion_proofs_are_rejected(
        size in 1..=300usize, index in any::<usize>(), seed in any::<u64>(), forgery in forgery()
    ) {
        let (leaves, roots) = random_tree(seed);
        let index = index % size;
        let mut proof = reference::path(index, &leaves[..size]);
        let (mut claim_index, mut claim_size, mut leaf) = (index, size, leaves[index]);
        match forgery {
            Forgery::FlipByte { hash, byte, bit } => {
                prop_assume!(!proof.is_empty());
                flip(&mut proof, hash, byte, bit);
            }
            Forgery::Truncate => {
                prop_assume!(!proof.is_empty());
                proof.pop();
            }
            Forgery::Extend(seed) => proof.push(XorShift(seed | 1).hash()),
            Forgery::OtherSize(other) => {
                claim_size = other % 300 + 1;
                prop_assume!(claim_size != size && index < claim_size);
            }
            Forgery::OtherIndex(other) => {
                claim_index = other % size;
                prop_assume!(claim_index != index);
            }
            Forgery::OtherLeaf => leaf = flipped(leaf, 0, 0),
        }
        // The claim is checked against the root of the size it names, as a checkpoint binds
        // them (a proof alone does not tie a root to a size: PATH(0, D[65]) also checks as a
        // path in a tree of 128 against the root of 65).
        let root = roots(claim_size);
        prop_assert!(
            verify_inclusion(claim_index as u64, claim_size as u64, &leaf, &proof, &root).is_err()
        );
    }

    #[test]
    fn forged_consistency_proofs_are_rejected(
        size in 1..=300usize, old in any::<usize>(), seed in any::<u64>(), forgery in forgery()
    ) {
        let (leaves, roots) = random_tree(seed);
        let old = old % (size + 1);
        let mut proof = reference::proof(old, &leaves[..size]);
        let (mut claim_old, mut claim_new) = (old, size);
        let mut old_root = roots(old);
        match forgery {
            Forgery::FlipByte { hash, byte, bit } => {
                prop_assume!(!proof.is_empty());
                flip(&mut proof, hash, byte, bit);
            }
            Forgery::Truncate => {
                prop_assume!(!proof.is_empty());
                proof.pop();
            }
            Forgery::Extend(seed) => proof.push(XorShift(seed | 1).hash()),
            Forgery::OtherSize(other) => {
                // Sizes 0 and `size` are always consistent with an empty proof: no forgery.
                claim_old = other % (size + 1);
                prop_assume!(claim_old != old && claim_old != 0 && claim_old != size);
                old_root = roots(claim_old);
            }
            Forgery::OtherIndex(other) => {
                // The empty tree is a prefix of every tree: no forgery there.
                claim_new = other % 300 + 1;
                prop_assume!(claim_new != size && claim_new >= old && old > 0);
            }
            Forgery::OtherLeaf => {
                old_root = flipped(old_root, 0, 0);
            }
        }
        let new_root = roots(claim_new);
        prop_assert!(
            verify_consistency(claim_old as u64, claim_new as u64, &old_root, &new_root, &proof)
                .is_err()
        );
    }
}

/// The test vectors of `docs/merkle.md`: record hash i is 32 bytes each equal to i.
fn vector_leaves() -> Vec<Hash32> {
    (0..8u8)
        .map(|i| leaf_hash(&Hash32::from_bytes([i; 32])))
        .collect()
}

const VECTOR_ROOTS: [&str; 9] = [
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    "232b17a92a13d46fdeeba07519406dcdad6d67b7399159364b5e26af0ab95bcf",
    "601ae0d333efaf511cc72652be96836dc134955fc1c681ff185f99b5a12b2ae5",
    "3f97043de3a7a8fe71e55454f9f9dead4e44301744481419a20754c5a4f5ee38",
    "0429a1b33a4380638861ac320355688368261d8ed7ff2acb4b9701a8480b9e4b",
    "e6072121201b0f45dece141a4783b36b646b545bdde45368a59f50f52d4ecd55",
    "a8cd6567f2d79ef21a12b24ab0f582df630d715b4b9e91ca990779775e0e2171",
    "86e6ed55103cc18ad02044adebbe358f7bbad2c542c086973de8a1813e3bb83e",
    "d02f2e47c40dae9ee4408bea7af7b740ede960abf340d954e910250c1aa994cb",
];

const VECTOR_INCLUSION_2_IN_7: [&str; 3] = [
    "7e14f3d3c9ad356fc347f27541758e9af6fa7b71480d1933065abd0b649f3f8d",
    "601ae0d333efaf511cc72652be96836dc134955fc1c681ff185f99b5a12b2ae5",
    "f02ce904154b86be4b9d50197ed65fb6feb317d8ea48141fc54285554c390dfa",
];

const VECTOR_CONSISTENCY_3_TO_7: [&str; 4] = [
    "ada21777220442b46d8e0b3fe5a5099502eca1cb91e919758c33a320bc9f2d88",
    "7e14f3d3c9ad356fc347f27541758e9af6fa7b71480d1933065abd0b649f3f8d",
    "601ae0d333efaf511cc72652be96836dc134955fc1c681ff185f99b5a12b2ae5",
    "f02ce904154b86be4b9d50197ed65fb6feb317d8ea48141fc54285554c390dfa",
];

fn hashes(hex: &[&str]) -> Vec<Hash32> {
    hex.iter().map(|text| Hash32::from_hex(text).unwrap()).collect()
}

#[test]
fn the_test_vectors_of_the_spec_hold() {
    let leaves = vector_leaves();
    for (size, expected) in VECTOR_ROOTS.iter().enumerate() {
        assert_eq!(
            reference::mth(&leaves[..size]).to_hex(),
            *expected,
            "root of {size}"
        );
        let mut source = LeavesInMemory(&leaves);
        assert_eq!(
            merkle::root(&mut source, size as u64).unwrap().to_hex(),
            *expected
        );
    }
    let root7 = Hash32::from_hex(VECTOR_ROOTS[7]).unwrap();
    let root3 = Hash32::from_hex(VECTOR_ROOTS[3]).unwrap();
    let inclusion = hashes(&VECTOR_INCLUSION_2_IN_7);
    assert_eq!(reference::path(2, &leaves[..7]), inclusion);
    verify_inclusion(2, 7, &leaves[2], &inclusion, &root7).unwrap();
    let consistency = hashes(&VECTOR_CONSISTENCY_3_TO_7);
    assert_eq!(reference::proof(3, &leaves[..7]), consistency);
    verify_consistency(3, 7, &root3, &root7, &consistency).unwrap();
}

/// The two records of `record-format.md`'s test vectors as a tree of size 2.
#[test]
fn the_record_format_vectors_make_a_tree_of_two() {
    let record0 =
        Hash32::from_hex("8b15c6693027d8c43406383339e5649ad49dddcd70fcdf2aa63ce32724746643").unwrap();
    let record1 =
        Hash32::from_hex("b05d9f912103397296bc2016858d51aaa9176d1a3ca8d1a2b207053f9ccea40b").unwrap();
    let leaf0 = leaf_hash(&record0);
    let leaf1 = leaf_hash(&record1);
    assert_eq!(
        leaf0.to_hex(),
        "a62acb879e879a9558c397f97735337597307b05165e3d1ca30c7f57d8fc9e43"
    );
    assert_eq!(
        leaf1.to_hex(),
        "34316a1961277b6013cbc7a712f484ff6ba0a5a7abe8238beea4c58c1811d19c"
    );
    let root = node_hash(&leaf0, &leaf1);
    assert_eq!(
        root.to_hex(),
        "b78eb208d8ae8316230dfa3ad64b52f2c97e0dd418fb9ba4fe46511be9930d3c"
    );
    verify_inclusion(1, 2, &leaf1, &[leaf0], &root).unwrap();
    verify_consistency(1, 2, &leaf0, &root, &[leaf1]).unwrap();
}

#[test]
fn checkpoints_are_signed_kept_and_served_again_after_a_reopen() {
    let (dir, store) = store_with(20, 11);
    let verifier = govrec_store::NoteVerifier::parse(&store.verifier_key()).unwrap();
    assert!(store.origin().starts_with("govrec/"));
    let (size, note) = store.checkpoint_latest().unwrap();
    assert_eq!(size, 20);
    let checkpoint = verifier.verify_checkpoint(&note).unwrap();
    assert_eq!(checkpoint.root, store.merkle_root(20).unwrap());
    assert_eq!(checkpoint.origin, store.origin());
    store
        .append("recorder", county_and_town(uuid_of(1), uuid_of(2), "新"))
        .unwrap();
    let (later, later_note) = store.checkpoint_latest().unwrap();
    assert_eq!(later, 22);
    let key = store.verifier_key();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.verifier_key(), key, "the key is kept in the data directory");
    assert_eq!(store.checkpoint_at(20).unwrap().as_deref(), Some(note.as_str()));
    assert_eq!(
        store.checkpoint_at(22).unwrap().as_deref(),
        Some(later_note.as_str())
    );
    assert_eq!(store.checkpoint_at(21).unwrap(), None);
    let newer = verifier.verify_checkpoint(&later_note).unwrap();
    let proof = store.consistency_proof(20, 22).unwrap();
    verify_consistency(20, 22, &checkpoint.root, &newer.root, &proof).unwrap();
}

/// A full `verify_log` recomputes the Merkle tiles from the records' hashes: a changed, a
/// missing or an extra stored tile is damage, named by the first leaf of its tile; the records
/// themselves still check out.
#[test]
fn verify_finds_a_changed_missing_or_extra_merkle_tile() {
    let (dir, store) = store_with(800, 5);
    let intact = govrec_store::verify_log(store.log(), 0, None).unwrap();
    assert!(intact.is_intact(), "{intact:?}");
    drop(store);
    // Tile (t, i) is keyed by t, then i as u64 big-endian.
    fn key(tile_level: u8, index: u64) -> Vec<u8> {
        [&[tile_level][..], &index.to_be_bytes()].concat()
    }
    type Change = Box<dyn Fn(&sled::Tree)>;
    let cases: [(&str, Change, u64); 3] = [
        (
            "a changed leaf tile",
            Box::new(|tree: &sled::Tree| {
                let mut tile = tree.get(key(0, 2)).unwrap().unwrap().to_vec();
                tile[100] ^= 1;
                tree.insert(key(0, 2), tile).unwrap();
            }),
            2 * 256,
        ),
        (
            // (A missing unfinished tile of a higher level already stops the open.)
            "a missing leaf tile",
            Box::new(|tree: &sled::Tree| {
                tree.remove(key(0, 1)).unwrap();
            }),
            256,
        ),
        (
            "an extra tile",
            Box::new(|tree: &sled::Tree| {
                tree.insert(key(0, 3), vec![7u8; 32]).unwrap();
            }),
            3 * 256,
        ),
    ];
    for (what, change, first_leaf) in cases {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        {
            let db = sled::Config::new()
                .path(copy.path())
                .segment_size(govrec_store::SLED_SEGMENT_BYTES)
                .open()
                .unwrap();
            change(&db.open_tree("merkle").unwrap());
            db.flush().unwrap();
        }
        let store = open(copy.path());
        match govrec_store::verify_log(store.log(), 0, None).unwrap() {
            govrec_store::Verification::Damaged {
                first_bad_seq,
                reason,
            } => {
                assert!(reason.contains("Merkle tile"), "{what}: {reason}");
                assert_eq!(first_bad_seq, first_leaf, "{what}: {reason}");
            }
            intact => panic!("{what}: {intact:?}"),
        }
        // A range check covers the records only.
        assert!(
            govrec_store::verify_log(store.log(), 1, None)
                .unwrap()
                .is_intact(),
            "{what}"
        );
    }
}
