// noop in AssemblyScript with the Proxy-Wasm SDK (@solo-io/proxy-runtime): touches nothing.
export * from "@solo-io/proxy-runtime/proxy";
import { Context, RootContext, registerRootContext } from "@solo-io/proxy-runtime";
import { readConfiguration } from "./config";

class NoopRoot extends RootContext {
  onConfigure(configuration_size: u32): bool {
    readConfiguration(configuration_size);
    return true;
  }

  createContext(context_id: u32): Context {
    return new Context(context_id, this);
  }
}

// Registered under the empty root id, the one Envoy and filterbench give a plugin by default.
registerRootContext((context_id: u32): RootContext => new NoopRoot(context_id), "");
