/*
** json_array.h - strict parsing of flat JSON arrays of numbers.  No SQLite.
**
** Contract: the text must be exactly one JSON array (whitespace around it
** allowed) whose elements are numbers: '[1, 2.5e-3, -4]' (also the looser
** '.5', '5.' and '+1' that sqlite-vec accepts).  Anything
** else (objects, strings, nesting, trailing commas, junk after ']') is an
** error.  Each parser runs in two passes at the caller's choice: with
** out == NULL it checks syntax only and counts, so the caller can allocate
** exactly; with out != NULL it also converts (range errors show only
** then) and writes at most cap values.
** On error the return value is nonzero and *err points to a static message
** (offset-free, meant to be prefixed with the function and argument name).
*/
#ifndef SEMIPERSO_JSON_ARRAY_H
#define SEMIPERSO_JSON_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* Elements as float32; a value outside float32 range is an error. */
int json_array_floats(const char *text, size_t len, float *out, size_t cap,
                      size_t *count, const char **err);

/* Elements as 64-bit integer ids; a fraction or exponent is an error. */
int json_array_ids(const char *text, size_t len, int64_t *out, size_t cap,
                   size_t *count, const char **err);

#endif
