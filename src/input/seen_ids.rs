//! The call ids seen so far in a file, each with the line it first appeared
//! on (a repeat's reason names that line). Kept compact because it is the
//! one thing that grows with the file.
//!
//! Numeric Call IDs in a nightly report are near-sequential, so they are
//! kept in chunks of 4,096 consecutive ids: a chunk starts as a short sorted
//! list of `(offset, line)` pairs and becomes a dense array of lines once
//! it is a quarter full, where an id costs 4 bytes. UUIDs are random and go
//! in hash maps, kept as 16 bytes (a `u128` key would be padded to 32 with
//! its line) and spread over `PARTS` maps by a hash, so a map that doubles
//! holds its old and new tables for a sixty-fourth of the UUIDs, not all.

use std::collections::HashMap;

use crate::input::values::CallRef;

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
/// A sparse chunk turns dense past this many ids (where both take ~16 KiB).
const DENSE_AT: usize = CHUNK / 4;

enum Chunk {
    /// Sorted by offset.
    Sparse(Vec<(u16, u32)>),
    /// Line by offset; 0 means not seen (lines start at 1).
    Dense(Box<[u32]>),
}

/// How many maps the UUIDs are spread over.
const PARTS: usize = 64;

/// A UUID as bytes: alignment 1, so with its line an entry takes 20 bytes.
#[derive(PartialEq, Eq)]
struct UuidKey([u8; 16]);

impl std::hash::Hash for UuidKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_le_bytes(self.0));
    }
}

pub struct Seen {
    chunks: Vec<Chunk>,
    /// Where each chunk number's chunk is in `chunks`.
    chunk_at: HashMap<u64, usize, IdHasher>,
    /// The chunk of the last numeric id, and where it is: a nightly report's
    /// ids come in runs, so most lookups need no hashing at all.
    last: Option<(u64, usize)>,
    uuids: Vec<HashMap<UuidKey, u32, IdHasher>>,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            chunks: Vec::new(),
            chunk_at: HashMap::default(),
            last: None,
            uuids: (0..PARTS).map(|_| HashMap::default()).collect(),
        }
    }
}

impl Seen {
    /// Records `call` as seen on `line`, or returns the line it was first seen on.
    pub fn first_or_insert(&mut self, call: CallRef, line: u32) -> u32 {
        let line = line.max(1);
        match call {
            CallRef::Uuid(u) => {
                // The top bits of a multiplicative hash pick the map: any
                // UUID version spreads (v7 UUIDs share their leading bytes).
                let part = (((u as u64) ^ ((u >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
                *self.uuids[part].entry(UuidKey(u.to_le_bytes())).or_insert(line)
            }
            CallRef::Id(id) => {
                let offset = (id & (CHUNK as u64 - 1)) as u16;
                let number = id >> CHUNK_BITS;
                let at = match self.last {
                    Some((n, at)) if n == number => at,
                    _ => {
                        let next = self.chunks.len();
                        let at = *self.chunk_at.entry(number).or_insert(next);
                        if at == next {
                            self.chunks.push(Chunk::Sparse(Vec::new()));
                        }
                        self.last = Some((number, at));
                        at
                    }
                };
                let chunk = &mut self.chunks[at];
                match chunk {
                    Chunk::Dense(lines) => {
                        let slot = &mut lines[usize::from(offset)];
                        if *slot == 0 {
                            *slot = line;
                        }
                        *slot
                    }
                    Chunk::Sparse(pairs) => match pairs.binary_search_by_key(&offset, |&(o, _)| o) {
                        Ok(i) => pairs[i].1,
                        Err(i) => {
                            pairs.insert(i, (offset, line));
                            if pairs.len() > DENSE_AT {
                                let mut lines = vec![0u32; CHUNK].into_boxed_slice();
                                for &(o, l) in pairs.iter() {
                                    lines[usize::from(o)] = l;
                                }
                                *chunk = Chunk::Dense(lines);
                            }
                            line
                        }
                    },
                }
            }
        }
    }
}

/// A fast hasher for call ids. They come from the input file, not from an
/// adversary the job must defend against, and SipHash (the default) was a
/// fifth of `validate`'s time. The low bits (which pick the slot) are the
/// id's own, so the near-sequential ids of a nightly report land in nearby
/// slots and stay in cache; the top 7 bits (hashbrown's per-slot tag) are
/// mixed, so tags still tell ids apart.
#[derive(Default, Clone, Copy)]
pub struct IdHasher;

impl std::hash::BuildHasher for IdHasher {
    type Hasher = IdHash;
    fn build_hasher(&self) -> IdHash {
        IdHash(0)
    }
}

pub struct IdHash(u64);

impl std::hash::Hasher for IdHash {
    fn finish(&self) -> u64 {
        const TAG: u64 = !0 << 57;
        (self.0 & !TAG) | (self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) & TAG)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_line_wins() {
        let mut seen = Seen::default();
        assert_eq!(seen.first_or_insert(CallRef::Id(7), 2), 2);
        assert_eq!(seen.first_or_insert(CallRef::Id(7), 9), 2);
        assert_eq!(seen.first_or_insert(CallRef::Uuid(7), 10), 10, "a UUID is not a numeric id");
        assert_eq!(seen.first_or_insert(CallRef::Uuid(7), 11), 10);
    }

    #[test]
    fn chunks_turn_dense_and_keep_their_lines() {
        let mut seen = Seen::default();
        for i in 0..(CHUNK as u64) {
            assert_eq!(seen.first_or_insert(CallRef::Id(100_000_000 + i * 3), i as u32 + 2), i as u32 + 2);
        }
        for i in 0..(CHUNK as u64) {
            assert_eq!(seen.first_or_insert(CallRef::Id(100_000_000 + i * 3), 999_999), i as u32 + 2);
        }
        assert!(seen.chunks.iter().any(|c| matches!(c, Chunk::Dense(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Agrees with a plain map on any sequence of ids, sparse or dense.
        #[test]
        fn agrees_with_a_hash_map(ids in proptest::collection::vec(prop_oneof![0u64..3000, 0u64..u64::MAX, 1_000_000u64..1_010_000], 0..3000)) {
            let mut seen = Seen::default();
            let mut plain: HashMap<u64, u32> = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                let line = i as u32 + 2;
                prop_assert_eq!(seen.first_or_insert(CallRef::Id(*id), line), *plain.entry(*id).or_insert(line));
            }
        }

        /// The same for UUIDs, random or sharing their leading bytes (v7).
        #[test]
        fn uuids_agree_with_a_hash_map(ids in proptest::collection::vec(prop_oneof![0u128..500, any::<u128>(), (0u128..2000).prop_map(|n| (0x0190_1234_5678u128 << 80) | n)], 0..3000)) {
            let mut seen = Seen::default();
            let mut plain: HashMap<u128, u32> = HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                let line = i as u32 + 2;
                prop_assert_eq!(seen.first_or_insert(CallRef::Uuid(*id), line), *plain.entry(*id).or_insert(line));
            }
        }
    }
}
