// The Go bench filters: standard Go (no SDK) against the Proxy-Wasm ABI, built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (a WASI reactor). No dependencies.
module filterbench/gofilters

go 1.24
