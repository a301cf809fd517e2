//! The C side of the bridge (feature `module`): Envoy's hooks, the `proxy_*` hostcalls, and
//! the declarations of Envoy's callbacks and of the filter SDK's exports. Built only into a
//! bridged filter module; everything it decides is delegated to the tested translation layer.
//!
//! Safety contract of every exported function: it is called by Envoy (hooks) or by the
//! filter's SDK (hostcalls) with the pointers their ABIs promise — Envoy's objects live for the
//! hook, the module pointers are the ones this module returned, and the filter is trusted
//! native code whose pointers are valid for their lengths.
#![allow(clippy::missing_safety_doc)]

mod context;
mod envoy;
mod ffi;
mod hooks;
mod hostcalls;
#[cfg(feature = "loader")]
pub mod loader;
