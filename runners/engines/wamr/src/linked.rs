//! The fast-interpreter WAMR that `wamrx-sys` links into the binary.

use crate::api::Api;
use crate::natives::{Convention, Natives, initialise};
use crate::runtime::{Runtime, ThreadEnv};
use std::sync::OnceLock;
use wamrx_sys as sys;

/// The fast-interpreter WAMR linked into the binary (`wamrx-sys`).
pub(crate) struct Linked;

impl Runtime for Linked {
    #[inline(always)]
    fn api() -> &'static Api {
        &Api::LINKED
    }

    fn initialised() -> Result<(), String> {
        static INITIALISED: OnceLock<Result<Natives, String>> = OnceLock::new();
        INITIALISED
            .get_or_init(|| {
                let mut args = sys::RuntimeInitArgs {
                    mem_alloc_type: sys::Alloc_With_System_Allocator,
                    ..Default::default()
                };
                // SAFETY: once per process, before any other call into this build.
                unsafe { initialise::<Self>(&mut args, Convention::Raw) }
            })
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)
    }

    #[inline(always)]
    fn ensure_thread_env() {
        thread_local! {
            static THREAD_ENV: ThreadEnv = ThreadEnv::new(Linked::api());
        }
        THREAD_ENV.with(|_| {});
    }
}
