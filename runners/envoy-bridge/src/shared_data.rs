//! The process-wide shared data of the bridged filters: Envoy's Wasm filter keeps one store per
//! VM id across worker threads; Envoy's dynamic modules have no such store, so the bridge holds
//! one, with the semantics every host shares ([`SharedDataMap`]).

use crate::proxy_abi::Status;
use crate::proxy_abi::shared_data::SharedDataMap;
use std::sync::{LazyLock, Mutex};

/// A [`SharedDataMap`] behind a lock, usable from every worker thread.
#[derive(Debug)]
pub struct SharedData {
    entries: LazyLock<Mutex<SharedDataMap>>,
}

impl SharedData {
    /// An empty store.
    pub const fn new() -> Self {
        Self {
            entries: LazyLock::new(|| Mutex::new(SharedDataMap::new())),
        }
    }

    /// The value of `key` and its CAS version.
    pub fn get(&self, key: &[u8]) -> Result<(Vec<u8>, u32), Status> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).map(|(value, cas)| (value.to_vec(), cas))
    }

    /// Stores `value` under `key` if `cas` is 0 or the current version; `CAS_MISMATCH` else.
    pub fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Status {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.set(key, value, cas) {
            Ok(()) => Status::Ok,
            Err(status) => status,
        }
    }
}

impl Default for SharedData {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_store_serves_every_thread() {
        let data = std::sync::Arc::new(SharedData::new());
        let writer = {
            let data = std::sync::Arc::clone(&data);
            std::thread::spawn(move || data.set(b"k", b"a", 0))
        };
        assert_eq!(writer.join().unwrap(), Status::Ok);
        let (value, cas) = data.get(b"k").unwrap();
        assert_eq!((value.as_slice(), cas), (&b"a"[..], 1));
        assert_eq!(data.set(b"k", b"b", cas + 1), Status::CasMismatch);
    }
}
