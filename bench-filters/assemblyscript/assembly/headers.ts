// headers in AssemblyScript with the Proxy-Wasm SDK (@solo-io/proxy-runtime): the same edits as
// the Rust `headers` filter from the same JSON configuration ({"request": {"add": [[k, v]],
// "replace": [[k, v]], "remove": [k]}, "response": {...}}, lists optional, unknown keys refused).
// On request headers it adds, then replaces, then removes; on response headers likewise.
export * from "@solo-io/proxy-runtime/proxy";
import {
  Context,
  FilterHeadersStatusValues,
  LogLevelValues,
  RootContext,
  log,
  registerRootContext,
  stream_context,
} from "@solo-io/proxy-runtime";
import { readConfiguration } from "./config";
import { Edits, parseConfig } from "./json";

let request_edits = new Edits();
let response_edits = new Edits();

class HeadersRoot extends RootContext {
  onConfigure(configuration_size: u32): bool {
    const config = readConfiguration(configuration_size);
    request_edits = new Edits();
    response_edits = new Edits();
    if (config.length == 0) return true;
    if (!parseConfig(config, request_edits, response_edits)) {
      log(LogLevelValues.error, "headers (AssemblyScript): invalid plugin configuration");
      request_edits = new Edits();
      response_edits = new Edits();
      return false;
    }
    return true;
  }

  createContext(context_id: u32): Context {
    return new HeadersStream(context_id, this);
  }
}

class HeadersStream extends Context {
  constructor(context_id: u32, root_context: HeadersRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const e = request_edits;
    for (let i = 0; i < e.add.length; i += 2) stream_context.headers.request.add(e.add[i], e.add[i + 1]);
    for (let i = 0; i < e.replace.length; i += 2) stream_context.headers.request.replace(e.replace[i], e.replace[i + 1]);
    for (let i = 0; i < e.remove.length; i++) stream_context.headers.request.remove(e.remove[i]);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const e = response_edits;
    for (let i = 0; i < e.add.length; i += 2) stream_context.headers.response.add(e.add[i], e.add[i + 1]);
    for (let i = 0; i < e.replace.length; i += 2) stream_context.headers.response.replace(e.replace[i], e.replace[i + 1]);
    for (let i = 0; i < e.remove.length; i++) stream_context.headers.response.remove(e.remove[i]);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new HeadersRoot(context_id), "");
