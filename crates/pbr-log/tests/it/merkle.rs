//! RFC 9162 trees and proofs against a brute-force reference written straight from the RFC.

use pbr_log::hash::{Hash, empty_root, leaf_hash, node_hash};
use pbr_log::merkle::{
    MemoryTree, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
};

/// `MTH(D[0:n])` by the recursive definition of RFC 9162 §2.1.1, over leaf hashes.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_below(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn largest_power_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// `PATH(m, D[n])`, RFC 9162 §2.1.3.1, by the letter.
fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return vec![];
    }
    let k = largest_power_below(n);
    if m < k {
        let mut path = reference_path(m, &leaves[..k]);
        path.push(mth(&leaves[k..]));
        path
    } else {
        let mut path = reference_path(m - k, &leaves[k..]);
        path.push(mth(&leaves[..k]));
        path
    }
}

/// `SUBPROOF(m, D[n], b)`, RFC 9162 §2.1.4.1, by the letter.
fn reference_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let k = largest_power_below(n);
    if m <= k {
        let mut proof = reference_subproof(m, &leaves[..k], whole);
        proof.push(mth(&leaves[k..]));
        proof
    } else {
        let mut proof = reference_subproof(m - k, &leaves[k..], false);
        proof.push(mth(&leaves[..k]));
        proof
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("record {i}").as_bytes()))
        .collect()
}

fn tree(leaves: &[Hash]) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree
}

#[test]
fn roots_match_the_definition_for_every_size() {
    let all = leaves(300);
    let mut incremental = MemoryTree::new();
    assert_eq!(incremental.root(), empty_root());
    for n in 1..=all.len() {
        incremental.push(all[n - 1]);
        let expected = mth(&all[..n]);
        assert_eq!(incremental.root(), expected, "frontier root of size {n}");
        assert_eq!(
            root(&incremental, n as u64).unwrap(),
            expected,
            "stored root of size {n}"
        );
    }
}

#[test]
fn a_one_leaf_tree_is_its_leaf() {
    let leaf = leaf_hash(b"only");
    assert_eq!(tree(&[leaf]).root(), leaf);
}

#[test]
fn inclusion_proofs_for_every_index_and_size() {
    let all = leaves(200);
    let full = tree(&all);
    for n in 1..=all.len() {
        let expected_root = mth(&all[..n]);
        for m in 0..n {
            let path = inclusion_proof(&full, m as u64, n as u64).unwrap();
            assert_eq!(path, reference_path(m, &all[..n]), "path of {m} in {n}");
            assert!(verify_inclusion(
                m as u64,
                n as u64,
                &all[m],
                &path,
                &expected_root
            ));
        }
    }
}

#[test]
fn inclusion_proofs_fail_for_any_flipped_bit_or_wrong_position() {
    let all = leaves(77);
    let full = tree(&all);
    for (m, n) in [(0u64, 1u64), (0, 2), (5, 8), (33, 77), (76, 77), (64, 65)] {
        let path = inclusion_proof(&full, m, n).unwrap();
        let root = mth(&all[..n as usize]);
        let leaf = all[m as usize];
        for i in 0..path.len() {
            for bit in 0..256 {
                let mut bad = path.clone();
                bad[i][bit / 8] ^= 1 << (bit % 8);
                assert!(!verify_inclusion(m, n, &leaf, &bad, &root));
            }
        }
        let mut bad_leaf = leaf;
        bad_leaf[0] ^= 1;
        assert!(!verify_inclusion(m, n, &bad_leaf, &path, &root));
        assert!(!verify_inclusion(m, n + 1, &leaf, &path, &root) || n + 1 > 77);
        assert!(
            !verify_inclusion(n, n, &leaf, &path, &root),
            "index equal to size"
        );
        if m + 1 < n {
            assert!(!verify_inclusion(m + 1, n, &leaf, &path, &root));
        }
        let mut longer = path.clone();
        longer.push(root);
        assert!(!verify_inclusion(m, n, &leaf, &longer, &root));
    }
}

#[test]
fn consistency_proofs_for_every_pair_up_to_100() {
    let all = leaves(100);
    let full = tree(&all);
    for second in 0..=all.len() {
        let second_root = mth(&all[..second]);
        for first in 0..=second {
            let first_root = mth(&all[..first]);
            let path = consistency_proof(&full, first as u64, second as u64).unwrap();
            let expected = if first == 0 || first == second {
                vec![]
            } else {
                reference_subproof(first, &all[..second], true)
            };
            assert_eq!(path, expected, "proof {first} -> {second}");
            assert!(
                verify_consistency(
                    first as u64,
                    second as u64,
                    &first_root,
                    &second_root,
                    &path
                ),
                "verify {first} -> {second}"
            );
            if first > 0 && first < second {
                for i in 0..path.len() {
                    let mut bad = path.clone();
                    bad[i][i % 32] ^= 0x80;
                    assert!(!verify_consistency(
                        first as u64,
                        second as u64,
                        &first_root,
                        &second_root,
                        &bad
                    ));
                }
                let mut wrong = first_root;
                wrong[31] ^= 1;
                assert!(!verify_consistency(
                    first as u64,
                    second as u64,
                    &wrong,
                    &second_root,
                    &path
                ));
                assert!(!verify_consistency(
                    first as u64,
                    second as u64,
                    &first_root,
                    &wrong,
                    &path
                ));
            }
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let all = leaves(5);
    let r5 = mth(&all);
    assert!(verify_consistency(0, 5, &empty_root(), &r5, &[]));
    assert!(
        !verify_consistency(0, 5, &r5, &r5, &[]),
        "first == 0 needs the empty root"
    );
    assert!(verify_consistency(5, 5, &r5, &r5, &[]));
    assert!(
        !verify_consistency(5, 5, &r5, &r5, &[r5]),
        "first == second needs an empty path"
    );
    assert!(
        !verify_consistency(3, 5, &mth(&all[..3]), &r5, &[]),
        "0 < first < second needs a path"
    );
    assert!(!verify_consistency(6, 5, &r5, &r5, &[]));
}
