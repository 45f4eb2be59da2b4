//! Logical partitions: which of P partitions a player belongs to, by a hash
//! any other tool can compute the same way.

use std::num::NonZeroU32;

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64-bit prime (2^40 + 2^8 + 0xb3).
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The logical partition (`0..partitions`) of the player `player_id` (the id,
/// not the stream name): the 64-bit FNV-1a hash of its UTF-8 bytes (start from
/// the offset basis 0xcbf29ce484222325; for each byte, XOR it in, then multiply
/// by the prime 0x100000001b3 modulo 2^64), modulo `partitions`. With 64
/// partitions, `p1` is in partition 58 and `p42` in 9.
pub fn partition_of(player_id: &str, partitions: NonZeroU32) -> u32 {
    let partition = fnv1a_64(player_id) % u64::from(partitions.get());
    u32::try_from(partition).unwrap_or_default()
}

/// The instance that should own `partition` among `instances` (their ids):
/// rendezvous hashing, the one with the highest score, the FNV-1a hash of
/// `"{instance}/{partition}"` mixed by SplitMix64's finalizer (FNV alone
/// barely stirs its top bits for keys that differ only in their last bytes);
/// ties go to the smaller id. Every instance computes
/// the same answer from the same list, and an instance joining or leaving
/// moves only the partitions it takes or gives up: about 1/N of them.
pub fn owner_of(partition: u32, instances: &[String]) -> Option<&str> {
    instances
        .iter()
        .map(|id| (mix(fnv1a_64(&format!("{id}/{partition}"))), std::cmp::Reverse(id.as_str())))
        .max()
        .map(|(_, std::cmp::Reverse(id))| id)
}

/// SplitMix64's finalizer: every input bit moves about half the output bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64-bit FNV-1a hash of the UTF-8 bytes of `s`.
fn fnv1a_64(s: &str) -> u64 {
    s.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::owner_of;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("instance-{i}")).collect()
    }

    #[test]
    fn rendezvous_spreads_partitions_and_a_leave_moves_only_the_leavers() {
        let three = ids(3);
        let owners: Vec<&str> = (0..64).filter_map(|p| owner_of(p, &three)).collect();
        for id in &three {
            let owned = owners.iter().filter(|o| **o == id.as_str()).count();
            assert!((10..=32).contains(&owned), "{id} owns {owned} of 64");
        }
        let two: Vec<String> = three[..2].to_vec();
        for partition in 0..64 {
            let before = owner_of(partition, &three);
            let after = owner_of(partition, &two);
            if before != Some(three[2].as_str()) {
                assert_eq!(before, after, "partition {partition} moved though its owner stayed");
            }
        }
        assert_eq!(owner_of(0, &[]), None);
    }

    use super::*;

    fn count(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn the_hash_is_fnv_1a_64_as_published() {
        assert_eq!(fnv1a_64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn known_players_land_in_known_partitions() {
        assert_eq!(partition_of("p1", count(64)), 58);
        assert_eq!(partition_of("p42", count(64)), 9);
        assert_eq!(partition_of("player-7", count(64)), 0);
        assert_eq!(partition_of("Zoë", count(64)), 60);
        assert_eq!(partition_of("foobar", count(7)), 6);
        assert_eq!(partition_of("p1", count(1)), 0);
    }

    #[test]
    fn players_spread_over_the_partitions() {
        let mut players = [0_u32; 64];
        for i in 0..6_400 {
            players[partition_of(&format!("p{i}"), count(64)) as usize] += 1;
        }
        assert!(players.iter().all(|&n| (50..=150).contains(&n)), "{players:?}");
    }

    proptest! {
        #[test]
        fn a_player_always_lands_in_one_partition_in_range(player in "\\PC{1,40}", partitions in 1_u32..10_000) {
            let partition = partition_of(&player, count(partitions));
            prop_assert!(partition < partitions);
            prop_assert_eq!(partition, partition_of(&player, count(partitions)));
            prop_assert_eq!(partition_of(&player, count(1)), 0);
        }
    }
}
