/* noop in C without an SDK: touches nothing — the bare cost of the lifecycle crossing, with the
 * same callbacks exported as the Rust SDK's noop (abi.h has the trivial ones). */
#include "abi.h"

EXPORT(proxy_on_configure) bool proxy_on_configure(uint32_t root, size_t size) {
  (void)root;
  (void)size;
  return 1;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  return ACTION_CONTINUE;
}

EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  return ACTION_CONTINUE;
}
