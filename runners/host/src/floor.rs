//! The host floor: the identical stream lifecycle with callbacks that return at once, without
//! entering any guest or engine. Timing it measures the host's own per-stream work (copying the
//! workload's header maps and bodies, bookkeeping between callbacks), which every engine pays
//! alike; the harness shows it next to every ratio and computes ratios above it, the way
//! hyperfine measures and subtracts its own overhead.

use crate::error::CallError;
use crate::lifecycle::Callbacks;
use crate::state::{HostState, PluginSpec};

/// Name of the floor in results (`cells[].engine`).
pub const FLOOR_ENGINE: &str = "floor";

/// An instance with no module: every callback returns the spec's default (no-op, `true`,
/// `Continue`) immediately. Driven through [`crate::FilterInstance`] like a real instance.
#[derive(Debug)]
pub struct FloorInstance {
    host: HostState,
}

impl FloorInstance {
    /// A floor instance for `plugin` (only its host state is used).
    pub fn new(plugin: PluginSpec) -> Self {
        Self {
            host: HostState::new(plugin),
        }
    }
}

macro_rules! floor_callbacks {
    ($( $method:ident = $export:literal ( $( $arg:ident : $kind:ident ),* ) -> $ret:ident ; )*) => {
        impl Callbacks for FloorInstance {
            fn host(&mut self) -> &mut HostState {
                &mut self.host
            }

            fn module_name(&self) -> &str {
                FLOOR_ENGINE
            }

            fn engine_name(&self) -> &str {
                FLOOR_ENGINE
            }

            fn is_floor(&self) -> bool {
                true
            }

            $(
                // The arguments and result go through `black_box`, as they would through a
                // real call, so the compiler cannot fold the host's work around the callback.
                #[inline(never)]
                fn $method(&mut self, $( $arg: $crate::callback_arg_type!($kind) ),*) -> Result<$crate::callback_result_type!($ret), CallError> {
                    $( std::hint::black_box($arg); )*
                    Ok(std::hint::black_box($crate::callback_default!($ret)))
                }
            )*
        }
    };
}

crate::for_each_callback!(floor_callbacks);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{FilterInstance, HttpExchange};
    use crate::state::HeaderMap;

    #[test]
    fn the_floor_passes_a_stream_through_untouched() {
        let mut floor = FloorInstance::new(PluginSpec::new("floor", ""));
        floor.start().unwrap();
        let exchange = HttpExchange {
            request_headers: HeaderMap::from_pairs(&[(":path", "/"), ("x-a", "1")]),
            request_body: vec![b"hello".to_vec()],
            response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
            ..HttpExchange::default()
        };
        for _ in 0..3 {
            floor.run_stream(&exchange).unwrap();
            let stream = &floor.state().stream;
            assert_eq!(
                stream.request_headers.as_ref(),
                Some(&exchange.request_headers)
            );
            assert_eq!(
                stream.response_headers.as_ref(),
                Some(&exchange.response_headers)
            );
            assert_eq!(stream.request_body_forwarded, b"hello");
            assert_eq!(stream.request_body_forwarded_len, 5);
        }
    }
}
