-- noop: enters Lua on every request and response and does nothing (the bare cost of Envoy's
-- Lua filter, next to the noop Proxy-Wasm filter on V8).
function envoy_on_request(request_handle)
end

function envoy_on_response(response_handle)
end
