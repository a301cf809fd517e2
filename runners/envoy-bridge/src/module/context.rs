//! Who the filter's hostcalls act on: the configuration (root callbacks) or one stream, set by
//! the hooks for the length of each call into the filter; and the per-thread root contexts.

use super::envoy::{EnvoyConfig, EnvoyStream};
use super::ffi;
use crate::metrics::Metrics;
use crate::properties::PluginNames;
use crate::stream::StreamCore;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// One Envoy filter configuration: the plugin configuration, its identity and metrics.
pub struct ConfigState {
    /// Unique per configuration in the process (keys the per-thread root contexts).
    pub id: usize,
    /// Envoy's configuration object.
    pub envoy: EnvoyConfig,
    /// `plugin_name` / `plugin_vm_id`.
    pub plugin: PluginNames,
    /// The bytes `proxy_on_configure` reads as PLUGIN_CONFIGURATION.
    pub plugin_config: Vec<u8>,
    /// Metrics defined by the filter.
    pub metrics: Metrics,
}

/// One HTTP stream: the bridge's state and Envoy's handle.
pub struct StreamState {
    /// Bodies, deferred actions, context id.
    pub core: StreamCore,
    /// Envoy's side.
    pub envoy: EnvoyStream,
    /// The configuration the stream was created from.
    pub config: *const ConfigState,
    /// `proxy_on_log` and `proxy_on_done` have run.
    pub completed: bool,
}

/// What hostcalls made now act on.
#[derive(Clone, Copy)]
pub enum Current {
    /// Outside any filter callback (e.g. `_initialize`).
    Idle,
    /// A root callback (`proxy_on_vm_start`, `proxy_on_configure`) with its context id.
    Root(*const ConfigState, u32),
    /// A stream callback.
    Stream(*mut StreamState),
}

thread_local! {
    static CURRENT: Cell<Current> = const { Cell::new(Current::Idle) };
    /// Root context per configuration on this thread: (config id, root context id).
    static ROOTS: RefCell<Vec<(usize, u32)>> = const { RefCell::new(Vec::new()) };
    static INITIALIZED: Cell<bool> = const { Cell::new(false) };
}

static NEXT_CONTEXT_ID: AtomicU32 = AtomicU32::new(1);
static NEXT_CONFIG_ID: AtomicUsize = AtomicUsize::new(1);

/// A fresh context id, unique in the process.
pub fn next_context_id() -> u32 {
    NEXT_CONTEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A fresh configuration id.
pub fn next_config_id() -> usize {
    NEXT_CONFIG_ID.fetch_add(1, Ordering::Relaxed)
}

/// What hostcalls act on now.
pub fn current() -> Current {
    CURRENT.with(Cell::get)
}

/// Makes `target` the hostcalls' target until the guard drops (restoring the previous one).
pub struct Enter(Current);

impl Enter {
    /// Enters `target`.
    pub fn new(target: Current) -> Self {
        Self(CURRENT.with(|c| c.replace(target)))
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The root context of `config` on this thread, created (with `_initialize` once per thread,
/// `proxy_on_vm_start` and `proxy_on_configure`) on first use. `None` when the filter refused
/// its configuration.
pub fn root_for(config: *const ConfigState) -> Option<u32> {
    // SAFETY: configurations outlive their filters and roots (Envoy destroys them last).
    let config_id = unsafe { &*config }.id;
    if let Some(root) = ROOTS.with(|r| {
        r.borrow()
            .iter()
            .find(|(id, _)| *id == config_id)
            .map(|(_, root)| *root)
    }) {
        return Some(root);
    }
    if !INITIALIZED.with(|i| i.replace(true)) {
        let _idle = Enter::new(Current::Idle);
        // SAFETY: the SDK's `_initialize` registers the filter's factories in this thread's
        // dispatcher; it takes no arguments.
        unsafe { ffi::_initialize() };
    }
    let root = next_context_id();
    let _enter = Enter::new(Current::Root(config, root));
    // SAFETY: the SDK's exported callbacks, with a fresh root id; the plugin configuration
    // size is that of the bytes `proxy_get_buffer_bytes` will hand out.
    let configured = unsafe {
        ffi::proxy_on_context_create(root, 0);
        ffi::proxy_on_vm_start(root, 0)
            && ffi::proxy_on_configure(root, (*config).plugin_config.len())
    };
    if !configured {
        // SAFETY: the root just created.
        unsafe {
            if ffi::proxy_on_done(root) {
                ffi::proxy_on_delete(root);
            }
        }
        return None;
    }
    ROOTS.with(|r| r.borrow_mut().push((config_id, root)));
    Some(root)
}

/// Forgets (and deletes) this thread's root context of `config`.
pub fn drop_root(config: *const ConfigState) {
    // SAFETY: called before the configuration is freed.
    let config_id = unsafe { &*config }.id;
    let root = ROOTS.with(|r| {
        let mut roots = r.borrow_mut();
        let at = roots.iter().position(|(id, _)| *id == config_id)?;
        Some(roots.swap_remove(at).1)
    });
    if let Some(root) = root {
        let _enter = Enter::new(Current::Root(config, root));
        // SAFETY: a root this thread created.
        unsafe {
            if ffi::proxy_on_done(root) {
                ffi::proxy_on_delete(root);
            }
        }
    }
}
