//! `filterbench spec init --module M`: a commented starter spec for a module, written from
//! what the module imports (HTTP calls, ticks, properties, environment) and exports (body
//! callbacks, network callbacks).

use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// The names a module imports and exports.
struct Interface {
    imports: BTreeSet<String>,
    exports: BTreeSet<String>,
}

impl Interface {
    fn read(module: &Path) -> Result<Self> {
        let bytes = std::fs::read(module)
            .with_context(|| format!("cannot read module {}", module.display()))?;
        let mut interface = Self {
            imports: BTreeSet::new(),
            exports: BTreeSet::new(),
        };
        let not_wasm = || {
            format!(
                "module {} is not a WebAssembly module; give a .wasm file",
                module.display()
            )
        };
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            match payload.with_context(not_wasm)? {
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        interface
                            .imports
                            .insert(import.with_context(not_wasm)?.name.to_owned());
                    }
                }
                wasmparser::Payload::ExportSection(reader) => {
                    for export in reader {
                        interface
                            .exports
                            .insert(export.with_context(not_wasm)?.name.to_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(interface)
    }

    fn imports(&self, name: &str) -> bool {
        self.imports.contains(name)
    }

    fn exports(&self, name: &str) -> bool {
        self.exports.contains(name)
    }
}

/// A starter spec for `module`, whose path is written relative to `spec_dir` when it can be.
pub fn starter(module: &Path, spec_dir: &Path) -> Result<String> {
    let interface = Interface::read(module)?;
    let shown = pathdiff(module, spec_dir);
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# filterbench filter spec (schema: docs/filter-spec.schema.json in the filterbench repository)\n\
         # Run it with: filterbench run --spec THIS_FILE\n\
         module: {shown}\n\
         # native: libmy_filter.so   # the same source built as a native library, for the native baseline\n\
         plugin:\n  configuration: {{}}      # a string, or a mapping sent as JSON\n  \
         # root_id: \"\"\n  # vm_id: my-vm\n  # log_level: info"
    );
    if interface.imports("environ_get") {
        let _ = writeln!(
            w,
            "  # The module reads environment variables (WASI environ_get):\n  environment: {{}}"
        );
    }
    if interface.imports("proxy_get_property") {
        let _ = writeln!(
            w,
            "  # The module reads properties; add the ones it needs (strings, integers, booleans):\n  \
             properties: {{}}   # e.g. {{route_name: api, \"xds.cluster_name\": backend}}"
        );
    }
    if interface.imports("proxy_set_tick_period_milliseconds") {
        let _ = writeln!(
            w,
            "# The module sets a tick period: a virtual clock makes ticks fire (before the request\n\
             # they fall in, timed with it) and gives the module reproducible time.\n\
             clock:\n  request_interval_ms: 100"
        );
    }
    let http =
        interface.imports("proxy_http_call") || interface.imports("proxy_dispatch_http_call");
    let grpc = interface.imports("proxy_grpc_call") || interface.imports("proxy_grpc_stream");
    if http || grpc {
        let _ = writeln!(
            w,
            "# The module calls out: answer each cluster it calls (a call to a cluster not listed\n\
             # is refused, as Envoy refuses a cluster it does not know).\n\
             upstreams:"
        );
    }
    if http {
        let _ = writeln!(
            w,
            "  - cluster: CLUSTER-NAME       # its HTTP calls\n    response:\n      status: 200\n      \
             headers: {{content-type: application/json}}\n      body: '{{}}'"
        );
    }
    if grpc {
        let _ = writeln!(
            w,
            "  - cluster: GRPC-CLUSTER-NAME  # its gRPC calls and streams\n    grpc:\n      \
             # service: package.Service    # only this service (default: any)\n      \
             # method: Method              # only this method (default: any)\n      \
             messages: [ok]               # text, {{base64: …}} or {{file: …}} (protobuf bytes)\n      \
             status: 0                    # 0 OK; another status fails a call"
        );
    }
    let network = interface.exports("proxy_on_new_connection")
        || interface.exports("proxy_on_downstream_data");
    let _ = writeln!(
        w,
        "workloads:\n  - name: get-small          # a catalog workload (`filterbench list workloads`)\n    \
         # expect: {{local_reply: false}}"
    );
    if network {
        let _ = writeln!(
            w,
            "  # The module exports network (TCP) callbacks: a connection through it (the client's\n  \
             # data, the upstream's answer; remove get-small if it has no HTTP context).\n  \
             - name: connection\n    tcp: {{downstream: ping, upstream: pong}}"
        );
    }
    let _ = writeln!(
        w,
        "  # A root-only plugin (no HTTP or TCP context) is measured through its root callbacks:\n  \
         # - name: tick\n  #   tick: true                   # proxy_on_tick each time\n  \
         # - name: event\n  #   queue: {{name: QUEUE-NAME, item: hello}}   # an item on its shared queue"
    );
    if interface.exports("proxy_on_request_body") || interface.exports("proxy_on_response_body") {
        let _ = writeln!(
            w,
            "  - name: post-json\n    request: {{method: POST, path: /, headers: {{content-type: application/json}}, body_bytes: 4096}}\n    \
             response: {{status: 200, body_bytes: 1024}}"
        );
    }
    let _ = writeln!(
        w,
        "    # What must hold after the first request (only what is named is checked):\n    \
         # expect:\n    #   request_headers: {{x-added: value, x-removed: false, x-any: true}}\n    \
         #   response_headers: {{}}\n    #   local_reply: 403            # or false: no local reply\n    \
         #   log_contains: [\"a fragment\"]\n    #   metrics: {{requests_total: 1}}\n\
         # Headers or metrics whose values change with time are compared by presence:\n\
         # volatile: [ratelimit-reset]"
    );
    Ok(out)
}

/// `path` relative to `base` when it lies below it, else absolute.
fn pathdiff(path: &Path, base: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, base) = (absolute(path), absolute(base));
    path.strip_prefix(&base)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_follows_the_modules_imports_and_loads_as_a_spec() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("caller.wasm");
        let wasm = wat::parse_str(
            r#"(module
  (import "env" "proxy_http_call" (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream" (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func (param i32) (result i32)))
  (import "env" "proxy_get_property" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) (i32.const 0)))"#,
        )
        .unwrap();
        std::fs::write(&module, wasm).unwrap();
        let text = starter(&module, dir.path()).unwrap();
        for part in [
            "module: caller.wasm",
            "upstreams:",
            "clock:",
            "properties: {}",
            "post-json",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
        assert!(!text.contains("environment:"), "{text}");
        let path = dir.path().join("caller.yaml");
        std::fs::write(&path, &text).unwrap();
        let subject = crate::spec::load(&path).unwrap();
        assert_eq!(subject.filter.workloads, ["get-small", "post-json"]);
        assert_eq!(subject.filter.upstreams[0].cluster, "CLUSTER-NAME");
        let grpc = &subject.filter.custom.grpc_upstreams[0];
        assert_eq!(
            (grpc.cluster.as_str(), grpc.reply.status),
            ("GRPC-CLUSTER-NAME", 0)
        );
        assert_eq!(subject.filter.plugin.clock_step_ns, 100_000_000);
    }

    #[test]
    fn a_file_that_is_not_wasm_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("notes.wasm");
        std::fs::write(&module, b"hello").unwrap();
        let error = format!("{:#}", starter(&module, dir.path()).unwrap_err());
        assert!(
            error.contains("notes.wasm is not a WebAssembly module"),
            "{error}"
        );
    }
}
