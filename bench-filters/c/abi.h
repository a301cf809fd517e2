/* The Proxy-Wasm ABI v0.2.1 by hand: the few hostcalls these filters import, the export
 * attribute, and a small allocator for proxy_on_memory_allocate. No SDK, no libc on wasm32.
 *
 * Built twice from the same source, like the Rust filters: for wasm32 (clang --target=wasm32,
 * linked with wasm-ld) and for the host (the system C compiler, a shared library whose proxy_*
 * imports the native engine resolves). */
#ifndef FILTERBENCH_C_ABI_H
#define FILTERBENCH_C_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __wasm__
#define IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))
#else
#define IMPORT(name)
#define EXPORT(name) __attribute__((visibility("default")))
#endif

typedef uint32_t status_t;
enum { STATUS_OK = 0, STATUS_NOT_FOUND = 1 };
enum { ACTION_CONTINUE = 0, ACTION_PAUSE = 1 };
enum { MAP_REQUEST_HEADERS = 0, MAP_RESPONSE_HEADERS = 2 };
enum { BUFFER_PLUGIN_CONFIGURATION = 7 };
enum { LOG_ERROR = 4 };

IMPORT(proxy_log) status_t proxy_log(uint32_t level, const char *message, size_t size);
IMPORT(proxy_get_buffer_bytes)
status_t proxy_get_buffer_bytes(uint32_t buffer, size_t start, size_t max, char **data, size_t *size);
IMPORT(proxy_add_header_map_value)
status_t proxy_add_header_map_value(uint32_t map, const char *key, size_t key_size,
                                    const char *value, size_t value_size);
IMPORT(proxy_replace_header_map_value)
status_t proxy_replace_header_map_value(uint32_t map, const char *key, size_t key_size,
                                        const char *value, size_t value_size);
IMPORT(proxy_remove_header_map_value)
status_t proxy_remove_header_map_value(uint32_t map, const char *key, size_t key_size);

/* The marker export by which hosts recognise the ABI version; never called. */
EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

#ifdef __wasm__
/* wasm32 has no libc here: the compiler may still emit calls to these. */
void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}
void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

/* Power-of-two size classes from 16 bytes to 1 MiB, each with a free list; blocks come from
 * pages added with memory.grow. Enough for a filter whose only host allocation is its
 * configuration, and bounded for any filter that frees what it gets. */
#define CLASSES 17
static void *free_lists[CLASSES];

static int size_class(size_t size) {
  size_t block = 16;
  for (int c = 0; c < CLASSES; c++, block <<= 1)
    if (size + sizeof(size_t) <= block) return c;
  return -1;
}

static void *fb_alloc(size_t size) {
  int c = size_class(size);
  if (c < 0) return 0;
  size_t block = (size_t)16 << c;
  size_t *b = free_lists[c];
  if (b) {
    free_lists[c] = *(void **)(b + 1);
  } else {
    static unsigned char *next, *end;
    if ((size_t)(end - next) < block) {
      size_t pages = (block + 65535) / 65536;
      long old = __builtin_wasm_memory_grow(0, pages);
      if (old < 0) return 0;
      next = (unsigned char *)(old * 65536);
      end = next + pages * 65536;
    }
    b = (size_t *)next;
    next += block;
  }
  b[0] = (size_t)c;
  return b + 1;
}

static inline void fb_free(void *p) {
  if (!p) return;
  size_t *b = (size_t *)p - 1;
  int c = (int)b[0];
  *(void **)p = free_lists[c];
  free_lists[c] = b;
}
#else
#include <stdlib.h>
#define fb_alloc malloc
#define fb_free free
#endif

/* The host allocates here for data it hands over (the plugin configuration). */
EXPORT(proxy_on_memory_allocate) void *proxy_on_memory_allocate(size_t size) { return fb_alloc(size); }

/* The callbacks every HTTP filter exports (the Rust SDK exports them all too, so the host makes
 * the same calls into either): the ones these filters have nothing to do in (a filter that
 * defines FILTER_EXPORTS_REQUEST_BODY before including this header exports its own). */
EXPORT(proxy_on_vm_start) bool proxy_on_vm_start(uint32_t root, size_t size) {
  (void)root;
  (void)size;
  return 1;
}
EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context, uint32_t parent) {
  (void)context;
  (void)parent;
}
#ifndef FILTER_EXPORTS_REQUEST_BODY
EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t context, size_t size, bool end_of_stream) {
  (void)context;
  (void)size;
  (void)end_of_stream;
  return ACTION_CONTINUE;
}
#endif
EXPORT(proxy_on_request_trailers) uint32_t proxy_on_request_trailers(uint32_t context, size_t n) {
  (void)context;
  (void)n;
  return ACTION_CONTINUE;
}
EXPORT(proxy_on_response_body)
uint32_t proxy_on_response_body(uint32_t context, size_t size, bool end_of_stream) {
  (void)context;
  (void)size;
  (void)end_of_stream;
  return ACTION_CONTINUE;
}
EXPORT(proxy_on_response_trailers) uint32_t proxy_on_response_trailers(uint32_t context, size_t n) {
  (void)context;
  (void)n;
  return ACTION_CONTINUE;
}
EXPORT(proxy_on_done) bool proxy_on_done(uint32_t context) {
  (void)context;
  return 1;
}
EXPORT(proxy_on_log) void proxy_on_log(uint32_t context) { (void)context; }
EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context) { (void)context; }

static inline void log_error(const char *message) {
  size_t n = 0;
  while (message[n]) n++;
  proxy_log(LOG_ERROR, message, n);
}

#endif
