/* headers in C without an SDK: the same edits as the Rust `headers` filter, read from the same
 * JSON plugin configuration ({"request": {"add": [[k, v]], "replace": [[k, v]], "remove": [k]},
 * "response": {...}}, every list optional, unknown keys refused). On request headers it adds,
 * then replaces, then removes; on response headers likewise. A configuration that does not parse
 * makes proxy_on_configure fail. */
#include "abi.h"

typedef struct {
  const char *p;
  size_t n;
} str_t;

typedef struct {
  str_t key, value;
} pair_t;

#define MAX_EDITS 64

typedef struct {
  pair_t add[MAX_EDITS], replace[MAX_EDITS];
  str_t remove[MAX_EDITS];
  size_t n_add, n_replace, n_remove;
} edits_t;

static edits_t request_edits, response_edits;
/* The configuration bytes; parsed strings point into them. */
static char *config;

/* ---- a JSON reader for exactly this shape (strings decoded in place) ---- */

typedef struct {
  char *s, *end;
} parser_t;

static void ws(parser_t *p) {
  while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')) p->s++;
}

static int eat(parser_t *p, char c) {
  ws(p);
  if (p->s < p->end && *p->s == c) {
    p->s++;
    return 1;
  }
  return 0;
}

static int hex(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

static int string(parser_t *p, str_t *out) {
  if (!eat(p, '"')) return 0;
  char *w = p->s;
  out->p = w;
  while (p->s < p->end && *p->s != '"') {
    char c = *p->s++;
    if (c == '\\') {
      if (p->s >= p->end) return 0;
      char e = *p->s++;
      switch (e) {
        case '"': case '\\': case '/': c = e; break;
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned v = 0;
          for (int i = 0; i < 4; i++) {
            int d = p->s < p->end ? hex(*p->s++) : -1;
            if (d < 0) return 0;
            v = (v << 4) | (unsigned)d;
          }
          if (v >= 0x800) {
            *w++ = (char)(0xE0 | (v >> 12));
            *w++ = (char)(0x80 | ((v >> 6) & 0x3F));
            c = (char)(0x80 | (v & 0x3F));
          } else if (v >= 0x80) {
            *w++ = (char)(0xC0 | (v >> 6));
            c = (char)(0x80 | (v & 0x3F));
          } else {
            c = (char)v;
          }
          break;
        }
        default: return 0;
      }
    }
    *w++ = c;
  }
  if (p->s >= p->end) return 0;
  p->s++;
  out->n = (size_t)(w - out->p);
  return 1;
}

static int is(str_t s, const char *literal) {
  size_t i = 0;
  for (; literal[i]; i++)
    if (i >= s.n || s.p[i] != literal[i]) return 0;
  return i == s.n;
}

/* [[key, value], ...] */
static int pairs(parser_t *p, pair_t *out, size_t *n) {
  if (!eat(p, '[')) return 0;
  if (eat(p, ']')) return 1;
  do {
    if (*n == MAX_EDITS || !eat(p, '[') || !string(p, &out[*n].key) || !eat(p, ',') ||
        !string(p, &out[*n].value) || !eat(p, ']'))
      return 0;
    (*n)++;
  } while (eat(p, ','));
  return eat(p, ']');
}

/* [name, ...] */
static int names(parser_t *p, str_t *out, size_t *n) {
  if (!eat(p, '[')) return 0;
  if (eat(p, ']')) return 1;
  do {
    if (*n == MAX_EDITS || !string(p, &out[*n])) return 0;
    (*n)++;
  } while (eat(p, ','));
  return eat(p, ']');
}

static int edits(parser_t *p, edits_t *e) {
  if (!eat(p, '{')) return 0;
  if (eat(p, '}')) return 1;
  do {
    str_t key;
    if (!string(p, &key) || !eat(p, ':')) return 0;
    int ok = is(key, "add")       ? pairs(p, e->add, &e->n_add)
             : is(key, "replace") ? pairs(p, e->replace, &e->n_replace)
             : is(key, "remove")  ? names(p, e->remove, &e->n_remove)
                                  : 0;
    if (!ok) return 0;
  } while (eat(p, ','));
  return eat(p, '}');
}

static int parse(char *text, size_t size) {
  parser_t p = {text, text + size};
  if (!eat(&p, '{')) return 0;
  if (!eat(&p, '}')) {
    do {
      str_t key;
      if (!string(&p, &key) || !eat(&p, ':')) return 0;
      int ok = is(key, "request")    ? edits(&p, &request_edits)
               : is(key, "response") ? edits(&p, &response_edits)
                                     : 0;
      if (!ok) return 0;
    } while (eat(&p, ','));
    if (!eat(&p, '}')) return 0;
  }
  ws(&p);
  return p.s == p.end;
}

/* ---- the filter ---- */

EXPORT(proxy_on_configure) bool proxy_on_configure(uint32_t root, size_t size) {
  (void)root;
  fb_free(config);
  config = 0;
  edits_t none = {0};
  request_edits = none;
  response_edits = none;
  if (size == 0) return 1;
  size_t n = 0;
  if (proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, size, &config, &n) != STATUS_OK) {
    log_error("headers (C): cannot read the plugin configuration");
    return 0;
  }
  if (!parse(config, n)) {
    log_error("headers (C): invalid plugin configuration");
    request_edits = none;
    response_edits = none;
    return 0;
  }
  return 1;
}

static void apply(uint32_t map, const edits_t *e) {
  for (size_t i = 0; i < e->n_add; i++)
    proxy_add_header_map_value(map, e->add[i].key.p, e->add[i].key.n, e->add[i].value.p,
                               e->add[i].value.n);
  for (size_t i = 0; i < e->n_replace; i++)
    proxy_replace_header_map_value(map, e->replace[i].key.p, e->replace[i].key.n,
                                   e->replace[i].value.p, e->replace[i].value.n);
  for (size_t i = 0; i < e->n_remove; i++)
    proxy_remove_header_map_value(map, e->remove[i].p, e->remove[i].n);
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  apply(MAP_REQUEST_HEADERS, &request_edits);
  return ACTION_CONTINUE;
}

EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t context, size_t headers, bool end_of_stream) {
  (void)context;
  (void)headers;
  (void)end_of_stream;
  apply(MAP_RESPONSE_HEADERS, &response_edits);
  return ACTION_CONTINUE;
}
