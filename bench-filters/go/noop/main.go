// noop in Go without an SDK: touches nothing — the bare cost of the lifecycle crossing, with
// the same callbacks exported as the Rust SDK's noop (package abi has the trivial ones).
package main

import "filterbench/gofilters/abi"

// A reactor's main is never run; the package still needs one.
func main() {}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(context, headers, endOfStream uint32) uint32 {
	return abi.ActionContinue
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(context, headers, endOfStream uint32) uint32 {
	return abi.ActionContinue
}
