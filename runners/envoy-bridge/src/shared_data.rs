//! `proxy_get_shared_data` / `proxy_set_shared_data`: a process-wide key-value store with
//! compare-and-swap, as Envoy's Wasm filter keeps one per VM id across worker threads. Envoy's
//! dynamic modules have no such store, so the bridge holds it.

use crate::proxy_abi::Status;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Key → (value, CAS version).
type Entries = BTreeMap<Vec<u8>, (Vec<u8>, u32)>;

/// Values with their CAS version (never 0: 0 means "no check" in `set`).
#[derive(Debug, Default)]
pub struct SharedData {
    entries: Mutex<Entries>,
}

impl SharedData {
    /// An empty store.
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// The value of `key` and its CAS version.
    pub fn get(&self, key: &[u8]) -> Result<(Vec<u8>, u32), Status> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).cloned().ok_or(Status::NotFound)
    }

    /// Stores `value` under `key` if `cas` is 0 or the current version; `CAS_MISMATCH` else.
    pub fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Status {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get_mut(key) {
            Some((stored, version)) => {
                if cas != 0 && cas != *version {
                    return Status::CasMismatch;
                }
                *stored = value.to_vec();
                *version = version.wrapping_add(1).max(1);
            }
            None => {
                entries.insert(key.to_vec(), (value.to_vec(), 1));
            }
        }
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_guards_concurrent_writers() {
        let data = SharedData::new();
        assert_eq!(data.get(b"k"), Err(Status::NotFound));
        assert_eq!(data.set(b"k", b"a", 0), Status::Ok);
        let (value, cas) = data.get(b"k").unwrap();
        assert_eq!(value, b"a");
        assert_eq!(data.set(b"k", b"b", cas), Status::Ok);
        assert_eq!(
            data.set(b"k", b"c", cas),
            Status::CasMismatch,
            "stale version"
        );
        assert_eq!(data.get(b"k").unwrap().0, b"b");
        assert_eq!(
            data.set(b"k", b"d", 0),
            Status::Ok,
            "0 writes unconditionally"
        );
    }
}
