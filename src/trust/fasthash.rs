//! A fast hasher for certificate DER and SHA-256 hex keys. SipHash over every byte of
//! 10,000 DER blobs was the single largest cost of resolving a large bundle; this is
//! FxHash-style mixing (one multiply per 8 bytes) over every byte, from a per-process
//! random seed. Every byte counts: a bundle is hostile input, and a hash of only the ends
//! let a file of certificates differing only in the middle (the serial) collide on every
//! insert — 30,000 such certificates took minutes, quadratically. Equality still compares
//! whole keys, so the hash can only cost time, never correctness.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style mixing over every byte, from a random seed.
#[derive(Clone, Copy)]
pub struct EndsHasher(u64);

impl Default for EndsHasher {
    fn default() -> EndsHasher {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        EndsHasher(*SEED.get_or_init(|| {
            use std::hash::BuildHasher as _;
            std::collections::hash_map::RandomState::new().hash_one(0x7e57_5eedu64)
        }))
    }
}

const K: u64 = 0x517c_c1b7_2722_0a95;

impl EndsHasher {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }

    fn mix_bytes(&mut self, b: &[u8]) {
        let mut words = b.chunks_exact(8);
        for c in &mut words {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }
}

impl Hasher for EndsHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.mix(bytes.len() as u64);
        self.mix_bytes(bytes);
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type BuildEndsHasher = BuildHasherDefault<EndsHasher>;
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildEndsHasher>;
pub type FastSet<K> = std::collections::HashSet<K, BuildEndsHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_whole_keys_decide_equality() {
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        // Same ends, different middles: distinct keys (equality looks at every byte).
        let mut a = vec![7u8; 200];
        let mut b = a.clone();
        b[100] = 8;
        m.insert(a.clone(), 1);
        m.insert(b.clone(), 2);
        assert_eq!(m.len(), 2);
        assert_eq!(m[&a], 1);
        assert_eq!(m[&b], 2);
        a[199] = 9;
        assert!(!m.contains_key(&a));
        let mut s: FastSet<String> = FastSet::default();
        assert!(s.insert("ab".repeat(32)));
        assert!(!s.insert("ab".repeat(32)));
        assert!(s.insert("ab".repeat(31) + "ac"));
    }

    #[test]
    fn keys_differing_only_in_the_middle_spread_out() {
        // Certificates alike but for their serial: each must land in its own bucket, or a
        // bundle of them costs quadratic time.
        let base = vec![0x30u8; 800];
        let hashes: FastSet<u64> = (0u64..10_000)
            .map(|n| {
                let mut k = base.clone();
                k[20..28].copy_from_slice(&n.to_be_bytes());
                let mut h = EndsHasher::default();
                h.write(&k);
                h.finish()
            })
            .collect();
        assert_eq!(hashes.len(), 10_000);
    }
}
