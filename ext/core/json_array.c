/* json_array.c - strict flat JSON number arrays (see json_array.h). */
#include "json_array.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest number token accepted; longer ones carry no float32/int64 meaning. */
#define MAX_NUMBER_TOKEN 400

typedef struct {
  const char *p, *end;
} Scanner;

static void skip_space(Scanner *s) {
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Scans one number at s->p: a JSON number, also accepting the looser forms
** sqlite-vec reads (a leading '+', leading zeros, ".5", "5.").  Sets
** *is_integer when it has neither fraction nor exponent.  Returns its
** length, 0 when no number is there. */
static size_t scan_number(Scanner *s, int *is_integer) {
  const char *p = s->p, *e = s->end;
  size_t digits = 0;
  *is_integer = 1;
  if (p < e && (*p == '-' || *p == '+')) p++;
  while (p < e && is_digit(*p)) p++, digits++;
  if (p < e && *p == '.') {
    *is_integer = 0;
    p++;
    while (p < e && is_digit(*p)) p++, digits++;
  }
  if (digits == 0) return 0;
  if (p < e && (*p == 'e' || *p == 'E')) {
    *is_integer = 0;
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || !is_digit(*p)) return 0;
    while (p < e && is_digit(*p)) p++;
  }
  return (size_t)(p - s->p);
}

typedef int (*ElementSink)(const char *token, int is_integer, void *out,
                           size_t index, const char **err);

/* Walks the array, handing each number token to sink (when out != NULL and
** index < cap).  One walker serves every element type. */
static int walk_array(const char *text, size_t len, ElementSink sink,
                      void *out, size_t cap, size_t *count, const char **err) {
  Scanner s = {text, text + len};
  size_t n = 0;
  char token[MAX_NUMBER_TOKEN + 1];
  *count = 0;
  skip_space(&s);
  if (s.p >= s.end || *s.p != '[') {
    *err = "not a JSON array (expected '[')";
    return 1;
  }
  s.p++;
  skip_space(&s);
  if (s.p < s.end && *s.p == ']') {
    s.p++;
  } else {
    for (;;) {
      int is_integer;
      skip_space(&s);
      size_t tl = scan_number(&s, &is_integer);
      if (tl == 0) {
        *err = "malformed JSON array: every element must be a number";
        return 1;
      }
      if (tl > MAX_NUMBER_TOKEN) {
        *err = "malformed JSON array: number too long";
        return 1;
      }
      if (out != NULL && n < cap) {
        memcpy(token, s.p, tl);
        token[tl] = 0;
        if (sink(token, is_integer, out, n, err)) return 1;
      }
      n++;
      s.p += tl;
      skip_space(&s);
      if (s.p < s.end && *s.p == ',') {
        s.p++;
        continue;
      }
      if (s.p < s.end && *s.p == ']') {
        s.p++;
        break;
      }
      *err = "malformed JSON array: expected ',' or ']'";
      return 1;
    }
  }
  skip_space(&s);
  if (s.p != s.end) {
    *err = "malformed JSON: text after the closing ']'";
    return 1;
  }
  *count = n;
  return 0;
}

static int float_sink(const char *token, int is_integer, void *out,
                      size_t index, const char **err) {
  (void)is_integer;
  double v = strtod(token, NULL);
  if (!isfinite(v) || fabs(v) > 3.4028234663852886e38) {
    *err = "JSON array element outside float32 range";
    return 1;
  }
  ((float *)out)[index] = (float)v;
  return 0;
}

static int id_sink(const char *token, int is_integer, void *out, size_t index,
                   const char **err) {
  if (!is_integer) {
    *err = "JSON array element is not an integer id";
    return 1;
  }
  errno = 0;
  long long v = strtoll(token, NULL, 10);
  if (errno == ERANGE) {
    *err = "JSON array element outside 64-bit integer range";
    return 1;
  }
  ((int64_t *)out)[index] = (int64_t)v;
  return 0;
}

int json_array_floats(const char *text, size_t len, float *out, size_t cap,
                      size_t *count, const char **err) {
  return walk_array(text, len, float_sink, out, cap, count, err);
}

int json_array_ids(const char *text, size_t len, int64_t *out, size_t cap,
                   size_t *count, const char **err) {
  return walk_array(text, len, id_sink, out, cap, count, err);
}
