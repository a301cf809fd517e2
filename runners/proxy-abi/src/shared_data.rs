//! `proxy_get_shared_data` / `proxy_set_shared_data` semantics, once for the in-process host and
//! the Envoy bridge: a key-value store whose entries carry a compare-and-swap version.

use crate::Status;
use std::collections::HashMap;

/// Key → (value, CAS version). Versions are never 0: a `set` with CAS 0 writes unconditionally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedDataMap {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
}

impl SharedDataMap {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key` and its CAS version; `NOT_FOUND` when absent.
    pub fn get(&self, key: &[u8]) -> Result<(&[u8], u32), Status> {
        self.entries
            .get(key)
            .map(|(value, cas)| (value.as_slice(), *cas))
            .ok_or(Status::NotFound)
    }

    /// Stores `value` under `key` if `cas` is 0 or the entry's current version, and moves the
    /// version on (wrapping, skipping 0); `CAS_MISMATCH` otherwise. A new key starts at 1. The
    /// stored buffer is reused, so a steady writer does not allocate.
    pub fn set(&mut self, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        match self.entries.get_mut(key) {
            Some((stored, version)) => {
                if cas != 0 && cas != *version {
                    return Err(Status::CasMismatch);
                }
                stored.clear();
                stored.extend_from_slice(value);
                *version = version.wrapping_add(1).max(1);
            }
            None => {
                self.entries.insert(key.to_vec(), (value.to_vec(), 1));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_guards_concurrent_writers() {
        let mut data = SharedDataMap::new();
        assert_eq!(data.get(b"k"), Err(Status::NotFound));
        assert_eq!(data.set(b"k", b"a", 0), Ok(()));
        let (value, cas) = data.get(b"k").unwrap();
        assert_eq!((value, cas), (&b"a"[..], 1));
        assert_eq!(data.set(b"k", b"b", cas), Ok(()));
        assert_eq!(
            data.set(b"k", b"c", cas),
            Err(Status::CasMismatch),
            "stale version"
        );
        assert_eq!(data.get(b"k").unwrap(), (&b"b"[..], 2));
        assert_eq!(data.set(b"k", b"d", 0), Ok(()), "0 writes unconditionally");
        assert_eq!(data.get(b"k").unwrap(), (&b"d"[..], 3));
    }

    #[test]
    fn versions_wrap_without_reaching_zero() {
        let mut data = SharedDataMap::new();
        data.set(b"k", b"a", 0).unwrap();
        data.entries.get_mut(&b"k"[..]).unwrap().1 = u32::MAX;
        data.set(b"k", b"b", u32::MAX).unwrap();
        assert_eq!(data.get(b"k").unwrap().1, 1);
    }
}
