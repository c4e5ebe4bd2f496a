/* json_array.c - strict flat JSON number arrays (see json_array.h). */
#include "json_array.h"

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

/* Converts the number token (len characters at token, as scan_number
** accepted them) into element index of out. */
typedef int (*ElementSink)(const char *token, size_t len, int is_integer, void *out,
                           size_t index, const char **err);

/* Walks the array, handing each number token to sink (when out != NULL and
** index < cap).  One walker serves every element type. */
static int walk_array(const char *text, size_t len, ElementSink sink,
                      void *out, size_t cap, size_t *count, const char **err) {
  Scanner s = {text, text + len};
  size_t n = 0;
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
      if (out != NULL && n < cap && sink(s.p, tl, is_integer, out, n, err)) return 1;
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

static int float_sink(const char *token, size_t len, int is_integer, void *out,
                      size_t index, const char **err) {
  (void)is_integer;
  char text[MAX_NUMBER_TOKEN + 1]; /* strtod wants it terminated */
  memcpy(text, token, len);
  text[len] = 0;
  double v = strtod(text, NULL);
  if (!isfinite(v) || fabs(v) > 3.4028234663852886e38) {
    *err = "JSON array element outside float32 range";
    return 1;
  }
  ((float *)out)[index] = (float)v;
  return 0;
}

/* An integer token ([+-] then digits, leading zeros allowed) read by hand:
** strtoll's value and range (its locale and errno cost more than the
** ids they read, and evaluation reads millions). */
static int id_sink(const char *token, size_t len, int is_integer, void *out, size_t index,
                   const char **err) {
  if (!is_integer) {
    *err = "JSON array element is not an integer id";
    return 1;
  }
  const char *p = token, *end = token + len;
  int negative = *p == '-';
  if (*p == '-' || *p == '+') p++;
  /* The magnitude's bound: 2^63 - 1, or 2^63 for a negative value. */
  uint64_t limit = (uint64_t)INT64_MAX + (uint64_t)negative, v = 0;
  for (; p < end; p++) {
    uint64_t digit = (uint64_t)(*p - '0');
    if (v > (limit - digit) / 10) {
      *err = "JSON array element outside 64-bit integer range";
      return 1;
    }
    v = v * 10 + digit;
  }
  /* Negation in unsigned arithmetic: -2^63 has no positive int64. */
  ((int64_t *)out)[index] = negative ? (int64_t)(0 - v) : (int64_t)v;
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
