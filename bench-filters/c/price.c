/* price in C without an SDK: the probe behind the hostcall price list. Its plugin configuration
 * is "OP K": on every request it performs one operation K times, so the price of one operation
 * is the slope over K — (time with "OP K" − time with "none 0") / K, both measured on the same
 * engine in the same rounds — and the fixed cost of the callbacks drops out.
 *
 * Header, property, shared-data, metric, log and clock operations run in
 * proxy_on_request_headers; body operations at the end of the request body, after the probe has
 * buffered it whole (every configuration buffers, so the baseline does the same work minus the
 * operation). A configuration that does not parse makes proxy_on_configure fail. */
#define FILTER_EXPORTS_REQUEST_BODY
#include "abi.h"

enum { BUFFER_REQUEST_BODY = 0 };
enum { METRIC_COUNTER = 0, METRIC_HISTOGRAM = 2 };
enum { LOG_TRACE = 0, LOG_INFO = 2 };

IMPORT(proxy_get_header_map_value)
status_t proxy_get_header_map_value(uint32_t map, const char *key, size_t key_size, char **value,
                                    size_t *value_size);
IMPORT(proxy_get_header_map_pairs)
status_t proxy_get_header_map_pairs(uint32_t map, char **data, size_t *size);
IMPORT(proxy_set_buffer_bytes)
status_t proxy_set_buffer_bytes(uint32_t buffer, size_t start, size_t size, const char *data,
                                size_t data_size);
IMPORT(proxy_get_property)
status_t proxy_get_property(const char *path, size_t path_size, char **value, size_t *value_size);
IMPORT(proxy_get_shared_data)
status_t proxy_get_shared_data(const char *key, size_t key_size, char **value, size_t *value_size,
                               uint32_t *cas);
IMPORT(proxy_set_shared_data)
status_t proxy_set_shared_data(const char *key, size_t key_size, const char *value,
                               size_t value_size, uint32_t cas);
IMPORT(proxy_define_metric)
status_t proxy_define_metric(uint32_t type, const char *name, size_t name_size, uint32_t *id);
IMPORT(proxy_increment_metric) status_t proxy_increment_metric(uint32_t id, int64_t offset);
IMPORT(proxy_record_metric) status_t proxy_record_metric(uint32_t id, uint64_t value);
IMPORT(proxy_get_current_time_nanoseconds)
status_t proxy_get_current_time_nanoseconds(uint64_t *time);
IMPORT(proxy_http_call)
status_t proxy_http_call(const char *upstream, size_t upstream_size, const char *headers,
                         size_t headers_size, const char *body, size_t body_size,
                         const char *trailers, size_t trailers_size, uint32_t timeout_ms,
                         uint32_t *token);

/* The operations, by the name used in the configuration. */
enum op {
  OP_NONE,
  OP_GET_HEADER,
  OP_GET_PAIRS,
  OP_ADD_HEADER,
  OP_REPLACE_HEADER,
  OP_REMOVE_HEADER,
  OP_GET_BODY,
  OP_SET_BODY,
  OP_GET_PROPERTY,
  OP_SHARED_GET,
  OP_SHARED_SET,
  OP_SHARED_CAS,
  OP_METRIC_INCREMENT,
  OP_METRIC_RECORD,
  OP_LOG_ENABLED,
  OP_LOG_DISABLED,
  OP_CURRENT_TIME,
  OP_HTTP_CALL,
  OP_COUNT
};

static const char *const OP_NAMES[OP_COUNT] = {
    "none",          "get-header",    "get-pairs",       "add-header",   "replace-header",
    "remove-header", "get-body",  "set-body",        "get-property", "shared-get",
    "shared-set",    "shared-cas",    "metric-increment", "metric-record", "log-enabled",
    "log-disabled",  "current-time",  "http-call"};

static enum op op;
static uint32_t repeat;
static uint32_t counter_id, histogram_id;

#define S(literal) literal, sizeof(literal) - 1

/* What set-body writes: the body's length of 'x' (filled once, outside any request). */
#define MAX_BODY (128 * 1024)
static char fill[MAX_BODY];

/* The HTTP call's headers, serialized as the ABI wants them: count, (key, value) sizes, then
 * each key and value NUL-terminated. */
static const char CALL_HEADERS[] =
    "\x03\0\0\0"
    "\x07\0\0\0\x03\0\0\0"
    "\x05\0\0\0\x06\0\0\0"
    "\x0a\0\0\0\x05\0\0\0"
    ":method\0GET\0"
    ":path\0/price\0"
    ":authority\0price\0";

static int same(const char *a, size_t n, const char *b) {
  size_t i = 0;
  for (; i < n && b[i]; i++)
    if (a[i] != b[i]) return 0;
  return i == n && !b[i];
}

/* "OP K": the operation's name, one space, K in decimal (at most 1,000,000). */
static int parse(const char *s, size_t n) {
  size_t space = 0;
  while (space < n && s[space] != ' ') space++;
  if (space == n || space + 1 == n) return 0;
  int found = -1;
  for (int i = 0; i < OP_COUNT; i++)
    if (same(s, space, OP_NAMES[i])) found = i;
  if (found < 0) return 0;
  uint32_t k = 0;
  for (size_t i = space + 1; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || k > 1000000) return 0;
    k = k * 10 + (uint32_t)(s[i] - '0');
  }
  if (k > 1000000) return 0;
  op = (enum op)found;
  repeat = k;
  return 1;
}

EXPORT(proxy_on_configure) bool proxy_on_configure(uint32_t root, size_t size) {
  (void)root;
  char *config = 0;
  size_t n = 0;
  if (size == 0 ||
      proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, size, &config, &n) != STATUS_OK) {
    log_error("price (C): the plugin configuration must be \"OP K\", e.g. \"get-header 32\"");
    return 0;
  }
  int ok = parse(config, n);
  fb_free(config);
  if (!ok) {
    log_error("price (C): invalid plugin configuration: expected \"OP K\" with a known OP");
    return 0;
  }
  for (size_t i = 0; i < MAX_BODY; i++) fill[i] = 'x';
  if (proxy_define_metric(METRIC_COUNTER, S("price_counter"), &counter_id) != STATUS_OK ||
      proxy_define_metric(METRIC_HISTOGRAM, S("price_histogram"), &histogram_id) != STATUS_OK ||
      proxy_set_shared_data(S("price-key"), S("0123456789abcdef"), 0) != STATUS_OK) {
    log_error("price (C): cannot define its metrics or shared data");
    return 0;
  }
  return 1;
}

/* Keeps the compiler from dropping a loop whose result is unused. */
static volatile uint64_t sink;

static void header_ops(void) {
  for (uint32_t i = 0; i < repeat; i++) {
    char *data = 0;
    size_t size = 0;
    uint32_t cas = 0;
    switch (op) {
      case OP_GET_HEADER:
        proxy_get_header_map_value(MAP_REQUEST_HEADERS, S("user-agent"), &data, &size);
        break;
      case OP_GET_PAIRS:
        proxy_get_header_map_pairs(MAP_REQUEST_HEADERS, &data, &size);
        break;
      case OP_ADD_HEADER:
        proxy_add_header_map_value(MAP_REQUEST_HEADERS, S("x-price"), S("1"));
        break;
      case OP_REPLACE_HEADER:
        proxy_replace_header_map_value(MAP_REQUEST_HEADERS, S("x-price"), S("1"));
        break;
      case OP_REMOVE_HEADER: {
        /* A different header present each time: x-sweep-008, x-sweep-009, … (of the 64 of
         * get-large-headers; K at most 56). */
        char name[] = "x-sweep-000";
        uint32_t n = i + 8;
        name[8] = (char)('0' + n / 100);
        name[9] = (char)('0' + n / 10 % 10);
        name[10] = (char)('0' + n % 10);
        proxy_remove_header_map_value(MAP_REQUEST_HEADERS, name, sizeof(name) - 1);
        break;
      }
      case OP_GET_PROPERTY:
        proxy_get_property(S("request\0path"), &data, &size);
        break;
      case OP_SHARED_GET:
        proxy_get_shared_data(S("price-key"), &data, &size, &cas);
        break;
      case OP_SHARED_SET:
        proxy_set_shared_data(S("price-key"), S("0123456789abcdef"), 0);
        break;
      case OP_SHARED_CAS:
        proxy_get_shared_data(S("price-key"), &data, &size, &cas);
        proxy_set_shared_data(S("price-key"), S("0123456789abcdef"), cas);
        break;
      case OP_METRIC_INCREMENT:
        proxy_increment_metric(counter_id, 1);
        break;
      case OP_METRIC_RECORD:
        proxy_record_metric(histogram_id, 1);
        break;
      case OP_LOG_ENABLED:
        proxy_log(LOG_INFO, S("price: one log line"));
        break;
      case OP_LOG_DISABLED:
        proxy_log(LOG_TRACE, S("price: one log line"));
        break;
      case OP_CURRENT_TIME: {
        uint64_t now = 0;
        proxy_get_current_time_nanoseconds(&now);
        sink = now;
        break;
      }
      case OP_HTTP_CALL: {
        uint32_t token = 0;
        proxy_http_call(S("price-upstream"), CALL_HEADERS, sizeof(CALL_HEADERS) - 1, 0, 0, 0, 0,
                        1000, &token);
        break;
      }
      default:
        return;
    }
    fb_free(data);
  }
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  header_ops();
  return ACTION_CONTINUE;
}

EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t context, size_t size, bool end_of_stream) {
  (void)context;
  if (!end_of_stream) return ACTION_PAUSE;
  for (uint32_t i = 0; i < repeat; i++) {
    if (op == OP_GET_BODY) {
      char *data = 0;
      size_t n = 0;
      proxy_get_buffer_bytes(BUFFER_REQUEST_BODY, 0, size, &data, &n);
      fb_free(data);
    } else if (op == OP_SET_BODY && size <= MAX_BODY) {
      proxy_set_buffer_bytes(BUFFER_REQUEST_BODY, 0, size, fill, size);
    } else {
      break;
    }
  }
  return ACTION_CONTINUE;
}

EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  return ACTION_CONTINUE;
}

EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t context, uint32_t token, size_t headers, size_t body,
                                 size_t trailers) {
  (void)context;
  (void)token;
  (void)headers;
  (void)body;
  (void)trailers;
}
