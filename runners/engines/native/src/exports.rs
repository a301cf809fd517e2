//! The `proxy_*` hostcalls as C symbols exported by the running executable, and the
//! per-thread "current instance" they act on.

use crate::AllocFn;
use filterbench_host::HostState;
use filterbench_host::abi::{LogLevel, Status};
use filterbench_host::hostcalls::{self, Guest, HostTrap};
use filterbench_host::memory::GuestMemory;
use std::cell::Cell;
use std::ptr::NonNull;

thread_local! {
    static CURRENT: Cell<Option<(NonNull<HostState>, AllocFn)>> = const { Cell::new(None) };
}

/// Marks an instance as the target of hostcalls made on this thread until dropped.
pub(crate) struct Current {
    previous: Option<(NonNull<HostState>, AllocFn)>,
}

impl Current {
    /// Enters `host` for the duration of one callback.
    pub(crate) fn enter(host: &mut HostState, alloc: AllocFn) -> Self {
        let previous = CURRENT.with(|c| c.replace(Some((NonNull::from(host), alloc))));
        Self { previous }
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// A hostcall's view of the native instance being called.
struct NativeGuest<'a> {
    host: &'a mut HostState,
    alloc: AllocFn,
}

impl Guest for NativeGuest<'_> {
    fn state(&mut self) -> &mut HostState {
        self.host
    }

    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState) {
        // SAFETY: native filters are trusted code that pass valid pointers (crate docs).
        (unsafe { GuestMemory::native() }, self.host)
    }

    fn allocate(&mut self, size: u64) -> Result<u64, HostTrap> {
        let Ok(size) = usize::try_from(size) else {
            return Ok(0);
        };
        // SAFETY: `proxy_on_memory_allocate` of the library this instance was loaded from.
        Ok(unsafe { (self.alloc)(size) } as u64)
    }
}

/// Runs a hostcall against the current instance; outside a callback it fails with
/// INTERNAL_FAILURE. A trap (which native code cannot take) is logged and reported as
/// INTERNAL_FAILURE.
fn with_current(call: impl FnOnce(&mut NativeGuest<'_>) -> Result<u32, HostTrap>) -> u32 {
    let Some((mut host, alloc)) = CURRENT.with(Cell::get) else {
        return Status::InternalFailure.raw();
    };
    // SAFETY: `Current::enter` holds the only live reference to this host state for the
    // duration of the callback; hostcalls do not nest.
    let host = unsafe { host.as_mut() };
    let mut guest = NativeGuest { host, alloc };
    match call(&mut guest) {
        Ok(status) => status,
        Err(trap) => {
            guest.host.logs.push(LogLevel::Critical, trap.0.as_bytes());
            Status::InternalFailure.raw()
        }
    }
}

macro_rules! native_ty {
    (u32) => {
        u32
    };
    (ptr) => {
        usize
    };
    (size) => {
        usize
    };
    (out) => {
        usize
    };
    (i64) => {
        i64
    };
    (i32) => {
        i32
    };
    (flag) => {
        bool
    };
}

macro_rules! from_native {
    (u32, $v:expr) => {
        $v
    };
    (ptr, $v:expr) => {
        $v as u64
    };
    (size, $v:expr) => {
        $v as u64
    };
    (out, $v:expr) => {
        $v as u64
    };
    (i64, $v:expr) => {
        $v
    };
    (i32, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v
    };
}

macro_rules! export_hostcalls {
    ($( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        $(
            #[doc = concat!("Exported `", stringify!($name), "` hostcall for native filters.")]
            #[unsafe(no_mangle)]
            pub extern "C" fn $name($( $arg: native_ty!($kind) ),*) -> u32 {
                with_current(|guest| hostcalls::guarded(guest, stringify!($name), |guest| hostcalls::$name(guest, $( from_native!($kind, $arg) ),*)))
            }
        )*

        /// Every exported hostcall with its address; referencing them here also keeps the
        /// linker from dropping them.
        fn exported() -> Vec<(&'static str, usize)> {
            vec![ $( (concat!(stringify!($name), "\0"), $name as *const () as usize), )* ]
        }
    };
}

filterbench_host::for_each_proxy_hostcall!(export_hostcalls);

/// Checks that this executable exports the hostcalls (dlopen of a filter needs them).
pub(crate) fn check_exported() -> Result<(), String> {
    let this = libloading::os::unix::Library::this();
    for (name, address) in exported() {
        // SAFETY: only the address of the symbol is read.
        let found = unsafe { this.get::<*const ()>(name.as_bytes()) }
            .ok()
            .map(|s| *s as usize);
        if found != Some(address) {
            return Err(format!(
                "this executable does not export the hostcall {}; link it with \
                 -Wl,--export-dynamic-symbol=proxy_* (the workspace's .cargo/config.toml does this; \
                 a RUSTFLAGS environment variable overrides it, so add the flag there too)",
                name.trim_end_matches('\0')
            ));
        }
    }
    Ok(())
}
