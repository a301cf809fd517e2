//! Callbacks during which Envoy's Wasm host refuses most hostcalls: the module's start function
//! (`_initialize` / `_start`) and its allocator (`proxy_on_memory_allocate` / `malloc`, called
//! by the host to place data in guest memory). Inside them only an allow-list of logging, time
//! and WASI start-up calls runs; any other hostcall traps with `restricted_callback` (seen in
//! Envoy 1.40 on V8: a `proxy_get_header_map_size` from inside `proxy_on_memory_allocate`
//! logs "Uncaught Error: restricted_callback" and the request gets a 503, while `proxy_log`
//! there succeeds). The lists are proxy-wasm-cpp-host's, by function name; the `env` and the
//! WASI names do not overlap, so the import module need not be compared.

/// A callback that restricts the hostcalls the module may make.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Restriction {
    /// The start function (`_initialize`, else `_start`).
    Start,
    /// The allocator, while the host asks it for memory.
    Allocate,
}

/// Hostcalls allowed inside the allocator: logging (`proxy_log`, WASI `fd_write`), the clock,
/// and `poll_oneoff` (Go's runtime sleeps in its garbage collector).
const ALLOWED_IN_ALLOCATE: &[&str] = &["proxy_log", "fd_write", "clock_time_get", "poll_oneoff"];

/// Hostcalls allowed inside the start function: logging and the WASI calls a language runtime
/// makes while it initialises (arguments, environment, clock, randomness, preopened
/// directories, file descriptor status).
const ALLOWED_IN_START: &[&str] = &[
    "proxy_log",
    "fd_write",
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "clock_time_get",
    "random_get",
    "poll_oneoff",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_prestat_get",
    "fd_prestat_dir_name",
];

impl Restriction {
    /// The callback's name in messages.
    pub const fn callback(self) -> &'static str {
        match self {
            Self::Start => "the start function (_initialize / _start)",
            Self::Allocate => "proxy_on_memory_allocate",
        }
    }

    /// The hostcalls (by name) this callback lets through.
    pub const fn allowed(self) -> &'static [&'static str] {
        match self {
            Self::Start => ALLOWED_IN_START,
            Self::Allocate => ALLOWED_IN_ALLOCATE,
        }
    }

    /// Whether the hostcall `name` may run inside this callback.
    pub fn allows(self, name: &str) -> bool {
        self.allowed().contains(&name)
    }

    /// The trap message for the refused hostcall `name`: Envoy's `restricted_callback`, and why.
    #[cold]
    pub fn refusal(self, name: &str) -> String {
        format!(
            "restricted_callback: {name} was called inside {}, where Envoy's Wasm host allows \
             only {}",
            self.callback(),
            self.allowed().join(", ")
        )
    }
}
