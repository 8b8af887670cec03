//! Keys as 128-bit hashes, for the sets and maps that would otherwise hold every enterprise's key text
//! (duplicates across districts, the problem ledger's reporting enterprises, the anomaly rules). A leaf:
//! it depends on nothing of fugong's.

/// A key as 128 bits (two fixed-seed hashes): the map holds no key text. Two keys would have to
/// collide in both 64-bit hashes to be mistaken for each other.
#[derive(Debug, Clone)]
pub struct KeyHasher(ahash::RandomState, ahash::RandomState);

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher(
            ahash::RandomState::with_seeds(0x6675_676f, 0x6e67, 0x5f61_6e6f, 0x6d61_6c79),
            ahash::RandomState::with_seeds(0x7072_6576, 0x696f_7573, 0x5f64_6179, 0x6b65_7973),
        )
    }
}

impl KeyHasher {
    pub fn of(&self, key: &str) -> u128 {
        (u128::from(self.0.hash_one(key)) << 64) | u128::from(self.1.hash_one(key))
    }
}
