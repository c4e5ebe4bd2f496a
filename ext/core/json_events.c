/* json_events.c - a user's registration-day events as JSON (see json_events.h). */
#include "json_events.h"

#include <stdlib.h>
#include <string.h>

/* A scanned string: its raw content between the quotes. */
typedef struct {
  const char *start, *stop;
  int escaped; /* holds a backslash: must be decoded */
} Span;

static void skip_space(JsonEvents *it) {
  while (it->p < it->end &&
         (*it->p == ' ' || *it->p == '\t' || *it->p == '\n' || *it->p == '\r'))
    it->p++;
}

static int at(const JsonEvents *it, char c) { return it->p < it->end && *it->p == c; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static long hex4(const char *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* The string at it->p (its opening quote), checked: escapes, surrogate
** pairs, no raw control character. */
static int scan_string(JsonEvents *it, Span *s, const char **err) {
  const char *p = it->p + 1, *e = it->end;
  s->escaped = 0;
  s->start = p;
  while (p < e && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20) {
      *err = "malformed JSON: control character in a string";
      return -1;
    }
    if (c != '\\') {
      p++;
      continue;
    }
    s->escaped = 1;
    if (p + 1 >= e) break;
    char x = p[1];
    if (x != 'u') {
      if (!strchr("\"\\/bfnrt", x)) {
        *err = "malformed JSON: invalid escape in a string";
        return -1;
      }
      p += 2;
      continue;
    }
    long u = p + 6 <= e ? hex4(p + 2) : -1;
    if (u >= 0xdc00 && u <= 0xdfff) u = -1; /* a low surrogate alone */
    if (u >= 0xd800 && u <= 0xdbff) {
      long low = p + 12 <= e && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
      if (low < 0xdc00 || low > 0xdfff) u = -1;
      else p += 6;
    }
    if (u < 0) {
      *err = "malformed JSON: invalid \\u escape in a string";
      return -1;
    }
    p += 6;
  }
  if (p >= e) {
    *err = "malformed JSON: unterminated string";
    return -1;
  }
  s->stop = p;
  it->p = p + 1;
  return 0;
}

/* Writes code point u as UTF-8 to dst; returns the bytes written. */
static size_t put_utf8(char *dst, unsigned long u) {
  if (u < 0x80) {
    dst[0] = (char)u;
    return 1;
  }
  if (u < 0x800) {
    dst[0] = (char)(0xc0 | (u >> 6));
    dst[1] = (char)(0x80 | (u & 0x3f));
    return 2;
  }
  if (u < 0x10000) {
    dst[0] = (char)(0xe0 | (u >> 12));
    dst[1] = (char)(0x80 | ((u >> 6) & 0x3f));
    dst[2] = (char)(0x80 | (u & 0x3f));
    return 3;
  }
  dst[0] = (char)(0xf0 | (u >> 18));
  dst[1] = (char)(0x80 | ((u >> 12) & 0x3f));
  dst[2] = (char)(0x80 | ((u >> 6) & 0x3f));
  dst[3] = (char)(0x80 | (u & 0x3f));
  return 4;
}

/* Decodes a checked span into dst (at most stop - start bytes): returns
** the length.  Every escape is shorter decoded than written. */
static size_t decode(const Span *s, char *dst) {
  size_t n = 0;
  for (const char *p = s->start; p < s->stop;) {
    if (*p != '\\') {
      dst[n++] = *p++;
      continue;
    }
    char x = p[1];
    if (x != 'u') {
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      dst[n++] = to[strchr(from, x) - from];
      p += 2;
      continue;
    }
    unsigned long u = (unsigned long)hex4(p + 2);
    p += 6;
    if (u >= 0xd800 && u <= 0xdbff) {
      u = 0x10000 + ((u - 0xd800) << 10) + ((unsigned long)hex4(p + 2) - 0xdc00);
      p += 6;
    }
    n += put_utf8(dst + n, u);
  }
  return n;
}

/* Whether a checked span decodes to the ASCII text key. */
static int span_is(const Span *s, const char *key) {
  size_t raw = (size_t)(s->stop - s->start), len = strlen(key);
  if (!s->escaped) return raw == len && memcmp(s->start, key, len) == 0;
  /* An escape is at most 6 bytes for each byte it stands for. */
  char buf[64];
  if (raw > sizeof buf) return 0;
  return decode(s, buf) == len && memcmp(buf, key, len) == 0;
}

/* A JSON number at it->p, strictly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
** *is_int when it has no fraction or exponent and fits int64 (*value). */
static int scan_number(JsonEvents *it, int *is_int, int64_t *value, const char **err) {
  const char *p = it->p, *e = it->end;
  int negative = p < e && *p == '-';
  uint64_t mag = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  int fits = 1;
  if (negative) p++;
  if (p >= e || *p < '0' || *p > '9' || (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9')) {
    *err = "malformed JSON: bad number";
    return -1;
  }
  for (; p < e && *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (mag > (limit - d) / 10) fits = 0;
    else mag = mag * 10 + d;
  }
  *is_int = 1;
  if (p < e && *p == '.') {
    *is_int = 0;
    if (++p >= e || *p < '0' || *p > '9') {
      *err = "malformed JSON: bad number";
      return -1;
    }
    while (p < e && *p >= '0' && *p <= '9') p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    *is_int = 0;
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || *p < '0' || *p > '9') {
      *err = "malformed JSON: bad number";
      return -1;
    }
    while (p < e && *p >= '0' && *p <= '9') p++;
  }
  if (*is_int && !fits) *is_int = 0;
  if (*is_int) *value = negative ? (int64_t)(0 - mag) : (int64_t)mag;
  it->p = p;
  return 0;
}

/* Skips one JSON value, checking it. */
static int skip_value(JsonEvents *it, int depth, const char **err) {
  static const char *const words[] = {"true", "false", "null"};
  if (depth > JSON_EVENTS_MAX_DEPTH) {
    *err = "malformed JSON: nested too deeply";
    return -1;
  }
  skip_space(it);
  if (it->p >= it->end) {
    *err = "malformed JSON: unexpected end";
    return -1;
  }
  char c = *it->p;
  if (c == '"') {
    Span s;
    return scan_string(it, &s, err);
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    int is_int;
    int64_t v;
    return scan_number(it, &is_int, &v, err);
  }
  for (int w = 0; w < 3; w++) {
    size_t n = strlen(words[w]);
    if ((size_t)(it->end - it->p) >= n && memcmp(it->p, words[w], n) == 0) {
      it->p += n;
      return 0;
    }
  }
  if (c != '[' && c != '{') {
    *err = "malformed JSON";
    return -1;
  }
  char close = c == '[' ? ']' : '}';
  it->p++;
  skip_space(it);
  if (at(it, close)) {
    it->p++;
    return 0;
  }
  for (;;) {
    skip_space(it);
    if (close == '}') {
      Span key;
      if (!at(it, '"') || scan_string(it, &key, err)) {
        if (!at(it, '"')) *err = "malformed JSON: expected a string key";
        return -1;
      }
      skip_space(it);
      if (!at(it, ':')) {
        *err = "malformed JSON: expected ':'";
        return -1;
      }
      it->p++;
    }
    if (skip_value(it, depth + 1, err)) return -1;
    skip_space(it);
    if (at(it, ',')) {
      it->p++;
      continue;
    }
    if (at(it, close)) {
      it->p++;
      return 0;
    }
    *err = close == ']' ? "malformed JSON: expected ',' or ']'" : "malformed JSON: expected ',' or '}'";
    return -1;
  }
}

/* One field of an event: a string (into *s) or, with s NULL, an integer. */
static int read_field(JsonEvents *it, Span *s, int64_t *id, const char **err) {
  skip_space(it);
  if (s) {
    if (at(it, '"')) return scan_string(it, s, err);
    if (skip_value(it, 1, err)) return -1;
    *err = "action and entity must be strings";
    return -1;
  }
  int is_int = 0;
  if (it->p < it->end && (*it->p == '-' || (*it->p >= '0' && *it->p <= '9'))) {
    if (scan_number(it, &is_int, id, err)) return -1;
  } else if (skip_value(it, 1, err)) {
    return -1;
  }
  if (!is_int) {
    *err = "entity_id must be an integer (in 64-bit range)";
    return -1;
  }
  return 0;
}

static int expect(JsonEvents *it, char c, const char *message, const char **err) {
  skip_space(it);
  if (!at(it, c)) {
    *err = message;
    return -1;
  }
  it->p++;
  return 0;
}

#define ARRAY_EVENT "an array event must be [action, entity, entity_id]"
#define OBJECT_EVENT "an object event needs \"action\", \"entity\" and \"entity_id\", once each"

/* One event at it->p. */
static int read_event(JsonEvents *it, Span *action, Span *entity, int64_t *id,
                      const char **err) {
  skip_space(it);
  if (it->p >= it->end) {
    *err = "malformed JSON: unexpected end";
    return -1;
  }
  if (at(it, '[')) {
    it->p++;
    if (read_field(it, action, NULL, err) || expect(it, ',', ARRAY_EVENT, err) ||
        read_field(it, entity, NULL, err) || expect(it, ',', ARRAY_EVENT, err) ||
        read_field(it, NULL, id, err) || expect(it, ']', ARRAY_EVENT, err))
      return -1;
    return 0;
  }
  if (!at(it, '{')) {
    *err = "an event must be [action, entity, entity_id] or an object with \"action\", "
           "\"entity\" and \"entity_id\"";
    return -1;
  }
  it->p++;
  int seen[3] = {0, 0, 0};
  skip_space(it);
  if (at(it, '}')) {
    *err = OBJECT_EVENT;
    return -1;
  }
  for (;;) {
    Span key;
    skip_space(it);
    if (!at(it, '"')) {
      *err = "malformed JSON: expected a string key";
      return -1;
    }
    if (scan_string(it, &key, err) || expect(it, ':', "malformed JSON: expected ':'", err))
      return -1;
    int k = span_is(&key, "action") ? 0 : span_is(&key, "entity") ? 1
          : span_is(&key, "entity_id") ? 2 : -1;
    if (k >= 0 && seen[k]++) {
      *err = OBJECT_EVENT;
      return -1;
    }
    if (k < 0 ? skip_value(it, 1, err)
              : read_field(it, k == 0 ? action : k == 1 ? entity : NULL, id, err))
      return -1;
    skip_space(it);
    if (at(it, ',')) {
      it->p++;
      continue;
    }
    if (expect(it, '}', "malformed JSON: expected ',' or '}'", err)) return -1;
    break;
  }
  if (!seen[0] || !seen[1] || !seen[2]) {
    *err = OBJECT_EVENT;
    return -1;
  }
  return 0;
}

/* After an element or the opening bracket: ',' then more, or the end. */
static int after_element(JsonEvents *it, const char **err) {
  skip_space(it);
  if (at(it, ',')) {
    it->p++;
    skip_space(it);
    if (at(it, ']')) {
      *err = "malformed JSON: trailing comma";
      return -1;
    }
    return 0;
  }
  if (!at(it, ']')) {
    *err = "malformed JSON: expected ',' or ']' after an event";
    return -1;
  }
  it->p++;
  skip_space(it);
  if (it->p != it->end) {
    *err = "malformed JSON: text after the closing ']'";
    return -1;
  }
  it->finished = 1;
  return 0;
}

int json_events_begin(JsonEvents *it, const char *text, size_t len, const char **err) {
  memset(it, 0, sizeof *it);
  it->p = text;
  it->end = text + len;
  it->index = JSON_EVENTS_NO_INDEX;
  skip_space(it);
  if (!at(it, '[')) {
    *err = "not a JSON array";
    return -1;
  }
  it->p++;
  skip_space(it);
  if (at(it, ']')) return after_element(it, err);
  it->index = 0;
  return 0;
}

int json_events_next(JsonEvents *it, JsonEvent *ev, const char **err) {
  if (it->finished) return 0;
  Span action, entity;
  int64_t id = 0;
  if (read_event(it, &action, &entity, &id, err)) return -1;
  size_t need = (size_t)(action.stop - action.start) + (size_t)(entity.stop - entity.start);
  if ((action.escaped || entity.escaped) && need > it->scratch_cap) {
    char *s = realloc(it->scratch, need);
    if (s == NULL) {
      *err = "out of memory";
      return -2;
    }
    it->scratch = s;
    it->scratch_cap = need;
  }
  ev->action = action.start;
  ev->action_len = (size_t)(action.stop - action.start);
  ev->entity = entity.start;
  ev->entity_len = (size_t)(entity.stop - entity.start);
  if (action.escaped) {
    ev->action = it->scratch;
    ev->action_len = decode(&action, it->scratch);
  }
  if (entity.escaped) {
    ev->entity = it->scratch + (size_t)(action.stop - action.start);
    ev->entity_len = decode(&entity, it->scratch + (action.stop - action.start));
  }
  ev->entity_id = id;
  size_t index = it->index;
  if (after_element(it, err)) {
    it->index = JSON_EVENTS_NO_INDEX;
    return -1;
  }
  it->index = index + 1;
  return 1;
}

void json_events_free(JsonEvents *it) {
  free(it->scratch);
  it->scratch = NULL;
  it->scratch_cap = 0;
}
