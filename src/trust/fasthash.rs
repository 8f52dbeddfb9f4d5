//! A hasher for keys that are long and whose ends are random: certificate DER (it ends in
//! a signature) and SHA-256 hex strings. SipHash over every byte of 10,000 DER blobs was
//! the single largest cost of resolving a large bundle; this one mixes the length and at
//! most 32 bytes from each end of every write. Equality still compares whole keys, so a
//! weak hash can only cost time, never correctness. Not for attacker-chosen keys in a
//! long-lived process: a bundle is read once per run.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style mixing over a bounded window of each write.
#[derive(Default, Clone, Copy)]
pub struct EndsHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl EndsHasher {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }

    fn mix_bytes(&mut self, b: &[u8]) {
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(w));
        }
    }
}

impl Hasher for EndsHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.mix(bytes.len() as u64);
        if bytes.len() <= 64 {
            self.mix_bytes(bytes);
        } else {
            self.mix_bytes(&bytes[..32]);
            self.mix_bytes(&bytes[bytes.len() - 32..]);
        }
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
}
