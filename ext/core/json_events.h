/*
** json_events.h - a user's registration-day events as JSON, read one at a
** time.  No SQLite.
**
** Contract: the text is strict JSON (RFC 8259: no comments, no trailing
** commas, nothing after the top level), the top level an array whose
** elements are events, each either
**   [action, entity, entity_id]                   exactly these three, or
**   {"action": ..., "entity": ..., "entity_id": ...}
**                                                 these keys once each; other
**                                                 keys (any JSON value) are
**                                                 skipped
** with action and entity strings and entity_id an integer (no fraction or
** exponent) in int64 range.  Strings may use every JSON escape (\uXXXX
** becomes UTF-8, surrogate pairs joined); bytes above 0x7f pass through as
** they are.  Events come out in array order.  Nesting deeper than
** JSON_EVENTS_MAX_DEPTH (inside skipped values) is an error.
** Errors set *err to a static message; it->index is then the element at
** fault, or JSON_EVENTS_NO_INDEX when the array itself is malformed.
*/
#ifndef SEMIPERSO_JSON_EVENTS_H
#define SEMIPERSO_JSON_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define JSON_EVENTS_MAX_DEPTH 64
#define JSON_EVENTS_NO_INDEX ((size_t)-1)

/* One event.  The strings are not NUL-terminated and stay valid until the
** next call: they point into the text, or into the reader's scratch when
** they held escapes. */
typedef struct {
  const char *action, *entity;
  size_t action_len, entity_len;
  int64_t entity_id;
} JsonEvent;

typedef struct {
  const char *p, *end;
  size_t index;   /* of the element being read */
  int finished;   /* the closing ']' was read */
  char *scratch;  /* malloc'd, for strings with escapes */
  size_t scratch_cap;
} JsonEvents;

/* Starts reading text (len bytes): 0, or -1 when it does not start with
** an array. */
int json_events_begin(JsonEvents *it, const char *text, size_t len, const char **err);

/* The next event: 1; 0 at the end, once the rest of the text is checked;
** -1 on an error; -2 when scratch memory is short. */
int json_events_next(JsonEvents *it, JsonEvent *ev, const char **err);

void json_events_free(JsonEvents *it);

#endif
