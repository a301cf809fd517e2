//! The host's HTTP header map: ordered, keys lower case, flat storage that reuses its
//! allocations.

use crate::pairs::Bytes;

/// An HTTP header map in the order the host holds it. Keys are stored lower-case (as Envoy
/// does); lookups ignore ASCII case; values are arbitrary bytes.
///
/// Stored flat: every key and value lives in one byte arena and the entries are ranges into it,
/// so copying a map ([`HeaderMap::assign`], `clone_from`) is two `memcpy`s and reuses the
/// allocations, and edits append to the arena. Once a map has held its largest content, nothing
/// it does allocates; that keeps the host's per-stream work off the measured time (a map of
/// `Vec` pairs cost 29 mallocs and frees per get-small lifecycle).
#[derive(Debug, Default)]
pub struct HeaderMap {
    /// Keys and values, back to back; bytes of removed or replaced entries stay until the map
    /// is overwritten or compacted.
    arena: Vec<u8>,
    /// Each entry's key and value as `[key_start, key_end, value_start, value_end]` in `arena`.
    entries: Vec<[u32; 4]>,
}

impl Clone for HeaderMap {
    fn clone(&self) -> Self {
        let mut copy = Self::new();
        copy.assign(self);
        copy
    }

    fn clone_from(&mut self, source: &Self) {
        self.assign(source);
    }
}

impl PartialEq for HeaderMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for HeaderMap {}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from pairs, lower-casing the keys.
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Self {
        let mut map = Self::new();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    /// Number of entries (repeated keys count once per entry).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, e: &[u32; 4]) -> (&[u8], &[u8]) {
        let [ks, ke, vs, ve] = e.map(|i| i as usize);
        (&self.arena[ks..ke], &self.arena[vs..ve])
    }

    /// The entries in order, as (key, value).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone + '_ {
        self.entries.iter().map(|e| self.entry(e))
    }

    /// The entries as owned pairs (allocates: for checks and reports, not the hot path).
    pub fn to_pairs(&self) -> Vec<(Bytes, Bytes)> {
        self.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    }

    /// The first value for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Appends `bytes` to the arena (lower-cased when `lower`) and returns their range.
    fn push_bytes(&mut self, bytes: &[u8], lower: bool) -> [u32; 2] {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        if lower {
            self.arena[start..].make_ascii_lowercase();
        }
        [start as u32, self.arena.len() as u32]
    }

    /// Appends an entry (keeps existing entries with the same key).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let [ks, ke] = self.push_bytes(key, true);
        let [vs, ve] = self.push_bytes(value, false);
        self.entries.push([ks, ke, vs, ve]);
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| self.entry(e).0.eq_ignore_ascii_case(key))
    }

    /// Sets `key` to `value`: the first entry is overwritten in place and later duplicates are
    /// removed; a missing key is appended.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) {
        match self.position(key) {
            Some(first) => {
                let [_, _, vs, ve] = self.entries[first];
                if value.len() <= (ve - vs) as usize {
                    // Fits where the old value was.
                    let start = vs as usize;
                    self.arena[start..start + value.len()].copy_from_slice(value);
                    self.entries[first][3] = vs + value.len() as u32;
                } else {
                    let [vs, ve] = self.push_bytes(value, false);
                    self.entries[first][2] = vs;
                    self.entries[first][3] = ve;
                }
                let arena = &self.arena;
                let mut index = 0;
                self.entries.retain(|e| {
                    index += 1;
                    index - 1 <= first
                        || !arena[e[0] as usize..e[1] as usize].eq_ignore_ascii_case(key)
                });
            }
            None => self.add(key, value),
        }
    }

    /// Removes every entry for `key`.
    pub fn remove(&mut self, key: &[u8]) {
        let arena = &self.arena;
        self.entries
            .retain(|e| !arena[e[0] as usize..e[1] as usize].eq_ignore_ascii_case(key));
    }

    /// Empties the map, keeping its allocations.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
    }

    /// Replaces the whole map.
    pub fn set_pairs(&mut self, pairs: &[(&[u8], &[u8])]) {
        self.clear();
        for (k, v) in pairs {
            self.add(k, v);
        }
    }

    /// Overwrites this map with `other`, reusing this map's allocations (no allocation once
    /// it has held as much).
    pub fn assign(&mut self, other: &HeaderMap) {
        self.arena.clone_from(&other.arena);
        self.entries.clone_from(&other.entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_follows_envoy_semantics() {
        let mut map = HeaderMap::from_pairs(&[("Accept", "a"), ("x-dup", "1"), ("x-dup", "2")]);
        assert_eq!(map.get(b"accept"), Some(&b"a"[..]));
        assert_eq!(map.iter().next().unwrap().0, b"accept");
        map.replace(b"X-Dup", b"3");
        assert_eq!(map.iter().filter(|(k, _)| *k == b"x-dup").count(), 1);
        assert_eq!(map.get(b"x-dup"), Some(&b"3"[..]));
        map.replace(b"new", b"n");
        assert_eq!(map.iter().last().unwrap(), (&b"new"[..], &b"n"[..]));
        map.add(b"new", b"m");
        map.remove(b"NEW");
        assert_eq!(map.get(b"new"), None);
        assert_eq!(map.len(), 2);
    }
}
