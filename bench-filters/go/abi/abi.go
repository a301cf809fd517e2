// Package abi is the Proxy-Wasm ABI v0.2.1 by hand for the Go bench filters: the few hostcalls
// they import, the callbacks every HTTP filter exports that these filters have nothing to do in
// (the Rust SDK exports them all too, so the host makes the same calls into each language), and
// proxy_on_memory_allocate. No SDK.
package abi

import "unsafe"

// Status codes, actions, map and buffer types and log levels of the ABI that the filters use.
const (
	StatusOK                  = 0
	ActionContinue            = 0
	MapRequestHeaders         = 0
	MapResponseHeaders        = 2
	BufferPluginConfiguration = 7
	LogError                  = 4
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, message unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(buffer, start, max uint32, data, size unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32) uint32

// The memory handed to the host through proxy_on_memory_allocate, kept reachable (Go's
// collector does not move memory, but frees what nothing refers to) until Release.
var allocations [][]byte

// Release lets the collector have every block handed to the host so far: call it once the data
// the host wrote there has been read.
func Release() { allocations = nil }

func data(s string) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.StringData(s)), uint32(len(s))
}

// Log writes message at level.
func Log(level uint32, message string) {
	p, n := data(message)
	proxyLog(level, p, n)
}

// PluginConfiguration reads the plugin configuration (size bytes, as given to
// proxy_on_configure), or reports that it cannot.
func PluginConfiguration(size uint32) ([]byte, bool) {
	var ptr, n uint32
	if proxyGetBufferBytes(BufferPluginConfiguration, 0, size, unsafe.Pointer(&ptr), unsafe.Pointer(&n)) != StatusOK {
		return nil, false
	}
	if n == 0 {
		return nil, true
	}
	// The host wrote into a block from proxy_on_memory_allocate: copy it out, then let it go.
	config := make([]byte, n)
	copy(config, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n))
	Release()
	return config, true
}

// AddHeader adds key: value to a header map.
func AddHeader(mapType uint32, key, value string) {
	k, kn := data(key)
	v, vn := data(value)
	proxyAddHeaderMapValue(mapType, k, kn, v, vn)
}

// ReplaceHeader sets key to value in a header map.
func ReplaceHeader(mapType uint32, key, value string) {
	k, kn := data(key)
	v, vn := data(value)
	proxyReplaceHeaderMapValue(mapType, k, kn, v, vn)
}

// RemoveHeader removes key from a header map.
func RemoveHeader(mapType uint32, key string) {
	k, kn := data(key)
	proxyRemoveHeaderMapValue(mapType, k, kn)
}

// The marker export by which hosts recognise the ABI version; never called.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyAbiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) uint32 {
	block := make([]byte, max(size, 1))
	allocations = append(allocations, block)
	return uint32(uintptr(unsafe.Pointer(&block[0])))
}

//go:wasmexport proxy_on_vm_start
func proxyOnVmStart(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(context, parent uint32) {}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(context, size, endOfStream uint32) uint32 { return ActionContinue }

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(context, n uint32) uint32 { return ActionContinue }

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(context, size, endOfStream uint32) uint32 { return ActionContinue }

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(context, n uint32) uint32 { return ActionContinue }

//go:wasmexport proxy_on_done
func proxyOnDone(context uint32) uint32 { return 1 }

//go:wasmexport proxy_on_log
func proxyOnLog(context uint32) {}

//go:wasmexport proxy_on_delete
func proxyOnDelete(context uint32) {}
