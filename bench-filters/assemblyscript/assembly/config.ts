// The plugin configuration, read the way the SDK should: proxy-runtime 0.1.8's own onConfigure
// passes the configuration size where the result size's address belongs and traps (CHECK_RESULT)
// when the configuration is empty, so the bench filters override onConfigure and call this.
// (Each root class overrides onConfigure itself: AssemblyScript 0.14's virtual dispatch does not
// reach an override of a method that a base class of ours calls on `this`.)
import { BufferTypeValues, get_buffer_bytes } from "@solo-io/proxy-runtime/runtime";

/** The plugin configuration as text ("" when there is none). */
export function readConfiguration(configuration_size: u32): string {
  if (configuration_size == 0) return "";
  const bytes = get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, configuration_size);
  return String.UTF8.decode(bytes);
}
