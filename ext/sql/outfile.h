/*
** outfile.h - how a SQL function writes a file (export_bundle,
** export_onnx), one way for all of them:
**   - the function is SQLITE_DIRECTONLY (SP_DIRECT): never from a view or
**     trigger of a schema it does not trust;
**   - it refuses when the connection is in defensive mode
**     (SQLITE_DBCONFIG_DEFENSIVE);
**   - it never replaces an existing file unless asked to (replace);
**   - it writes a temporary file "<path>.tmp-<random hex>" in the target's
**     directory (created like any new file: mode 0666 less the umask),
**     fsyncs it and renames it into place (RENAME_NOREPLACE, or link and
**     unlink where the file system lacks it, when not replacing), then
**     fsyncs the directory: a reader of path sees the old file or the
**     whole new one, never a part;
**   - on any failure, interrupts included, the temporary file is removed
**     and path is untouched.
** Usage:
**   SpOutFile f;
**   rc = sp_outfile_open(&f, db, fn, argno, path, replace, &err);
**   ... sp_outfile_write(&f, bytes, n, &err), or write f.tmp another way
**       (a SQLite connection: then close it before committing) ...
**   if (rc == SQLITE_OK) rc = sp_outfile_commit(&f, &size, &err);
**   sp_outfile_free(&f);      removes the temporary file unless committed
*/
#ifndef SEMIPERSO_SQL_OUTFILE_H
#define SEMIPERSO_SQL_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "sqlite3ext.h"

typedef struct {
  const char *fn;  /* the SQL function, for messages */
  char *path;      /* sqlite3_malloc'd */
  char *tmp;       /* sqlite3_malloc'd; NULL once renamed or removed */
  int fd;          /* of tmp, -1 when closed */
  int replace;
} SpOutFile;

/* Checks the rules (defensive mode, an existing path) and creates the
** temporary file.  argno is path's argument number, for messages. */
int sp_outfile_open(SpOutFile *f, sqlite3 *db, const char *fn, int argno, const char *path,
                    int replace, char **err);

/* Appends n bytes to the temporary file. */
int sp_outfile_write(SpOutFile *f, const void *bytes, size_t n, char **err);

/* Makes the file durable and puts it in place; *size gets its length.
** On failure the temporary file is removed. */
int sp_outfile_commit(SpOutFile *f, int64_t *size, char **err);

/* Removes the temporary file unless it was committed, and frees f. */
void sp_outfile_free(SpOutFile *f);

/* Sets the failure of fn's export on ctx: err (freed here) with rc, an
** interrupt saying that nothing was written. */
void sp_outfile_result_error(sqlite3_context *ctx, const char *fn, int rc, char *err);

#endif
