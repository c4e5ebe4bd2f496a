/* Unit tests of json_events.c: every accepted form, every refusal, by hand. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "json_events.h"

/* Reads text whole: the events as "action|entity|id;" into out, the count
** returned, -1 on error (*err, *index the element at fault). */
static int read_all(const char *text, char *out, size_t cap, const char **err, size_t *index) {
  JsonEvents it;
  JsonEvent ev;
  int n = 0, got;
  size_t used = 0;
  out[0] = 0;
  *err = NULL;
  *index = JSON_EVENTS_NO_INDEX;
  if (json_events_begin(&it, text, strlen(text), err) != 0) {
    json_events_free(&it);
    return -1;
  }
  while ((got = json_events_next(&it, &ev, err)) == 1) {
    used += (size_t)snprintf(out + used, cap - used, "%.*s|%.*s|%lld;", (int)ev.action_len,
                             ev.action, (int)ev.entity_len, ev.entity, (long long)ev.entity_id);
    n++;
  }
  *index = it.index;
  json_events_free(&it);
  return got == 0 ? n : -1;
}

static void accepts(const char *text, int n, const char *want) {
  char out[512];
  const char *err;
  size_t index;
  int got = read_all(text, out, sizeof out, &err, &index);
  CHECK_MSG(got == n && strcmp(out, want) == 0, "%s: got %d events \"%s\" (%s), want %d \"%s\"",
            text, got, out, err ? err : "", n, want);
}

/* Refused, with this message, at this element. */
static void refuses(const char *text, const char *message, size_t index) {
  char out[512];
  const char *err;
  size_t at;
  int got = read_all(text, out, sizeof out, &err, &at);
  CHECK_MSG(got == -1 && err && strcmp(err, message) == 0 && at == index,
            "%s: got %d (\"%s\" at %lld), want \"%s\" at %lld", text, got, err ? err : "",
            (long long)at, message, (long long)index);
}

#define NONE JSON_EVENTS_NO_INDEX

int main(void) {
  /* The two forms, in order, with space anywhere JSON allows it. */
  accepts("[]", 0, "");
  accepts(" \n[ ]\t", 0, "");
  accepts("[[\"stream\",\"track\",12]]", 1, "stream|track|12;");
  accepts(" [ [ \"stream\" , \"track\" , 12 ] ,\n{\"entity_id\": -3, \"action\": \"skip\","
          " \"entity\": \"album\"} ] ",
          2, "stream|track|12;skip|album|-3;");
  /* Other keys of an object are skipped, whatever their value. */
  accepts("[{\"action\":\"ban\",\"ts\":[1,{\"a\":[true,false,null]},\"x\"],\"entity\":\"artist\","
          "\"entity_id\":0,\"w\":-1.5e-3}]",
          1, "ban|artist|0;");
  /* The int64 range, exactly. */
  accepts("[[\"a\",\"b\",9223372036854775807],[\"a\",\"b\",-9223372036854775808]]", 2,
          "a|b|9223372036854775807;a|b|-9223372036854775808;");
  /* Escapes decoded: \n, \", \u00e9 (2 bytes), \u20ac (3), a surrogate
  ** pair (4); escaped keys name the same keys. */
  accepts("[[\"a\\nb\\\"\",\"\\u00e9\\u20ac\\ud83c\\udfb5\",1]]", 1,
          "a\nb\"|\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb5|1;");
  accepts("[{\"\\u0061ction\":\"x\",\"entit\\u0079\":\"y\",\"entity_\\u0069d\":2}]", 1, "x|y|2;");
  /* Bytes above 0x7f pass as they are. */
  accepts("[[\"\xc3\xa9\",\"t\",1]]", 1, "\xc3\xa9|t|1;");

  /* The array itself. */
  refuses("", "not a JSON array", NONE);
  refuses("{\"action\": \"a\"}", "not a JSON array", NONE);
  refuses("[", "malformed JSON: unexpected end", 0);
  refuses("[[\"a\",\"b\",1],]", "malformed JSON: trailing comma", NONE);
  refuses("[[\"a\",\"b\",1] [\"a\",\"b\",2]]", "malformed JSON: expected ',' or ']' after an event",
          NONE);
  refuses("[[\"a\",\"b\",1]] x", "malformed JSON: text after the closing ']'", NONE);
  refuses("[] []", "malformed JSON: text after the closing ']'", NONE);
  /* An element: its form. */
  refuses("[1]", "an event must be [action, entity, entity_id] or an object with \"action\", "
                 "\"entity\" and \"entity_id\"", 0);
  refuses("[[\"a\",\"b\",1],[\"a\",\"b\"]]", "an array event must be [action, entity, entity_id]",
          1);
  refuses("[[\"a\",\"b\",1,2]]", "an array event must be [action, entity, entity_id]", 0);
  refuses("[{\"action\":\"a\",\"entity\":\"b\"}]",
          "an object event needs \"action\", \"entity\" and \"entity_id\", once each", 0);
  refuses("[{\"action\":\"a\",\"entity\":\"b\",\"entity_id\":1,\"action\":\"c\"}]",
          "an object event needs \"action\", \"entity\" and \"entity_id\", once each", 0);
  refuses("[{}]", "an object event needs \"action\", \"entity\" and \"entity_id\", once each", 0);
  /* Its fields' types. */
  refuses("[[1,\"b\",1]]", "action and entity must be strings", 0);
  refuses("[[\"a\",null,1]]", "action and entity must be strings", 0);
  refuses("[{\"action\":[\"a\"],\"entity\":\"b\",\"entity_id\":1}]",
          "action and entity must be strings", 0);
  refuses("[[\"a\",\"b\",1.5]]", "entity_id must be an integer (in 64-bit range)", 0);
  refuses("[[\"a\",\"b\",1e3]]", "entity_id must be an integer (in 64-bit range)", 0);
  refuses("[[\"a\",\"b\",\"1\"]]", "entity_id must be an integer (in 64-bit range)", 0);
  refuses("[[\"a\",\"b\",9223372036854775808]]", "entity_id must be an integer (in 64-bit range)",
          0);
  refuses("[[\"a\",\"b\",-9223372036854775809]]",
          "entity_id must be an integer (in 64-bit range)", 0);
  /* Strict JSON inside. */
  refuses("[[\"a\",\"b\",01]]", "malformed JSON: bad number", 0);
  refuses("[[\"a\",\"b\",-]]", "malformed JSON: bad number", 0);
  refuses("[[\"a\",\"b\",1.]]", "malformed JSON: bad number", 0);
  refuses("[[\"a\",\"b\",+1]]", "malformed JSON", 0);
  refuses("[[\"a\",\"b", "malformed JSON: unterminated string", 0);
  refuses("[[\"a\tb\",\"b\",1]]", "malformed JSON: control character in a string", 0);
  refuses("[[\"a\\x\",\"b\",1]]", "malformed JSON: invalid escape in a string", 0);
  refuses("[[\"\\u12\",\"b\",1]]", "malformed JSON: invalid \\u escape in a string", 0);
  refuses("[[\"\\ud83c\",\"b\",1]]", "malformed JSON: invalid \\u escape in a string", 0);
  refuses("[[\"\\udfb5\",\"b\",1]]", "malformed JSON: invalid \\u escape in a string", 0);
  refuses("[{\"action\":\"a\",\"x\":tru,\"entity\":\"b\",\"entity_id\":1}]", "malformed JSON", 0);
  refuses("[{\"action\" \"a\"}]", "malformed JSON: expected ':'", 0);
  refuses("[{\"action\":\"a\" \"entity\":\"b\"}]", "malformed JSON: expected ',' or '}'", 0);
  refuses("[{\"x\":[1 2]}]", "malformed JSON: expected ',' or ']'", 0);
  refuses("[{3:1}]", "malformed JSON: expected a string key", 0);
  /* Nesting is bounded, not recursed without end. */
  char deep[400];
  strcpy(deep, "[{\"x\":");
  for (int i = 0; i < JSON_EVENTS_MAX_DEPTH + 1; i++) strcat(deep, "[");
  refuses(deep, "malformed JSON: nested too deeply", 0);
  return check_report();
}
