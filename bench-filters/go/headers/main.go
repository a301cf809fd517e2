// headers in Go without an SDK: the same edits as the Rust `headers` filter, read from the same
// JSON plugin configuration ({"request": {"add": [[k, v]], "replace": [[k, v]], "remove": [k]},
// "response": {...}}, every list optional, unknown keys refused). On request headers it adds,
// then replaces, then removes; on response headers likewise. A configuration that does not
// parse makes proxy_on_configure fail.
package main

import (
	"bytes"
	"encoding/json"
	"errors"

	"filterbench/gofilters/abi"
)

// A reactor's main is never run; the package still needs one.
func main() {}

// edits are the header edits applied to one direction of the stream.
type edits struct {
	Add     []pair   `json:"add"`
	Replace []pair   `json:"replace"`
	Remove  []string `json:"remove"`
}

// pair is a [name, value] array in the configuration.
type pair struct{ name, value string }

func (p *pair) UnmarshalJSON(b []byte) error {
	var both []string
	if err := json.Unmarshal(b, &both); err != nil {
		return err
	}
	if len(both) != 2 {
		return errors.New("a header is [name, value]")
	}
	p.name, p.value = both[0], both[1]
	return nil
}

type config struct {
	Request  edits `json:"request"`
	Response edits `json:"response"`
}

var current config

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 {
	current = config{}
	if size == 0 {
		return 1
	}
	raw, ok := abi.PluginConfiguration(size)
	if !ok {
		abi.Log(abi.LogError, "headers (Go): cannot read the plugin configuration")
		return 0
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	var parsed config
	err := decoder.Decode(&parsed)
	if err == nil && decoder.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		abi.Log(abi.LogError, "headers (Go): invalid plugin configuration: "+err.Error())
		return 0
	}
	current = parsed
	return 1
}

func apply(mapType uint32, e *edits) {
	for _, p := range e.Add {
		abi.AddHeader(mapType, p.name, p.value)
	}
	for _, p := range e.Replace {
		abi.ReplaceHeader(mapType, p.name, p.value)
	}
	for _, name := range e.Remove {
		abi.RemoveHeader(mapType, name)
	}
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(context, headers, endOfStream uint32) uint32 {
	apply(abi.MapRequestHeaders, &current.Request)
	return abi.ActionContinue
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(context, headers, endOfStream uint32) uint32 {
	apply(abi.MapResponseHeaders, &current.Response)
	return abi.ActionContinue
}
