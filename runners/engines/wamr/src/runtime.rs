//! One WAMR build in this process, as the adapter sees it: its entry points, its one-time
//! initialisation, and its per-thread environment.

use crate::api::Api;

/// A WAMR build the adapter runs modules on.
pub(crate) trait Runtime: 'static {
    /// The build's entry points. Only called once [`Runtime::initialised`] has succeeded.
    fn api() -> &'static Api;
    /// Initialises the build and registers the natives, once per process.
    fn initialised() -> Result<(), String>;
    /// Makes sure the build's per-thread environment exists on the calling thread.
    fn ensure_thread_env();
}

/// A build's per-thread environment, destroyed when the thread ends.
pub(crate) struct ThreadEnv(&'static Api);

impl ThreadEnv {
    /// Creates the calling thread's environment in the build behind `api`.
    pub(crate) fn new(api: &'static Api) -> Self {
        // SAFETY: the build is initialised before any instance (and so any call) exists.
        unsafe { (api.wasm_runtime_init_thread_env)() };
        Self(api)
    }
}

impl Drop for ThreadEnv {
    fn drop(&mut self) {
        // SAFETY: pairs with the init in `new`, on the same thread.
        unsafe { (self.0.wasm_runtime_destroy_thread_env)() };
    }
}
