/* outfile.c - writing a file from a SQL function, whole or not at all (see outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* "<fn>(): <what> '<path>': <strerror>". */
static char *os_error(const SpOutFile *f, const char *what, const char *path, int err) {
  return sqlite3_mprintf("%s(): %s '%s': %s", f->fn, what, path, strerror(err));
}

/* The directory of path, for the fsync that makes a rename durable. */
static char *directory_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL) return sqlite3_mprintf(".");
  if (slash == path) return sqlite3_mprintf("/");
  return sqlite3_mprintf("%.*s", (int)(slash - path), path);
}

int sp_outfile_open(SpOutFile *f, sqlite3 *db, const char *fn, int argno, const char *path,
                    int replace, char **err) {
  memset(f, 0, sizeof *f);
  f->fn = fn;
  f->fd = -1;
  f->replace = replace;
  int defensive = 0;
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
  if (defensive) {
    *err = sqlite3_mprintf("%s(): refused: the connection is in defensive mode "
                           "(SQLITE_DBCONFIG_DEFENSIVE), which allows no function to write "
                           "files", fn);
    return SQLITE_ERROR;
  }
  if (path == NULL || path[0] == '\0') {
    *err = sqlite3_mprintf("%s(): argument %d (path) must be a non-empty file name", fn, argno);
    return SQLITE_ERROR;
  }
  struct stat st;
  if (lstat(path, &st) == 0 && (S_ISDIR(st.st_mode) || !replace)) {
    *err = S_ISDIR(st.st_mode)
               ? sqlite3_mprintf("%s(): argument %d (path): '%s' is a directory", fn, argno, path)
               : sqlite3_mprintf("%s(): argument %d (path): '%s' already exists (pass "
                                 "'{\"replace\": true}' to replace it)", fn, argno, path);
    return SQLITE_ERROR;
  }
  f->path = sqlite3_mprintf("%s", path);
  if (f->path == NULL) return SQLITE_NOMEM;
  /* A fresh random name, so concurrent writers never share one; "./" keeps
  ** a relative "file:..." name from being read as a URI by SQLite. */
  for (int attempt = 0; attempt < 16 && f->fd < 0; attempt++) {
    unsigned char r[8];
    sqlite3_randomness(sizeof r, r);
    sqlite3_free(f->tmp);
    f->tmp = sqlite3_mprintf("%s%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x",
                             strncmp(path, "file:", 5) == 0 ? "./" : "", path, r[0], r[1], r[2],
                             r[3], r[4], r[5], r[6], r[7]);
    if (f->tmp == NULL) return SQLITE_NOMEM;
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f->fd < 0 && errno != EEXIST) break;
  }
  if (f->fd < 0) {
    int e = errno;
    *err = os_error(f, "cannot create", f->tmp, e);
    sqlite3_free(f->tmp);
    f->tmp = NULL;
    return e == ENOSPC || e == EDQUOT ? SQLITE_FULL : SQLITE_CANTOPEN;
  }
  return SQLITE_OK;
}

int sp_outfile_write(SpOutFile *f, const void *bytes, size_t n, char **err) {
  const char *p = bytes;
  while (n > 0) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      *err = os_error(f, "cannot write", f->tmp, e);
      return e == ENOSPC || e == EDQUOT ? SQLITE_FULL : SQLITE_IOERR;
    }
    p += w;
    n -= (size_t)w;
  }
  return SQLITE_OK;
}

/* Puts tmp in place of path, refusing to replace a file unless asked. */
static int put_in_place(SpOutFile *f, char **err) {
  if (f->replace) {
    if (rename(f->tmp, f->path) == 0) return SQLITE_OK;
  } else if (renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_NOREPLACE) == 0) {
    return SQLITE_OK;
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    /* No RENAME_NOREPLACE here: a hard link fails just the same if path
    ** appeared meanwhile. */
    if (link(f->tmp, f->path) == 0) {
      unlink(f->tmp);
      return SQLITE_OK;
    }
  }
  if (errno == EEXIST) {
    *err = sqlite3_mprintf("%s(): '%s' appeared while it was being written; it is left as it "
                           "is (pass '{\"replace\": true}' to replace it)", f->fn, f->path);
    return SQLITE_ERROR;
  }
  *err = os_error(f, "cannot rename the finished file to", f->path, errno);
  return SQLITE_IOERR;
}

int sp_outfile_commit(SpOutFile *f, int64_t *size, char **err) {
  struct stat st;
  if (fsync(f->fd) != 0 || fstat(f->fd, &st) != 0) {
    *err = os_error(f, "cannot flush", f->tmp, errno);
    return SQLITE_IOERR;
  }
  *size = (int64_t)st.st_size;
  int closed = close(f->fd);
  f->fd = -1;
  if (closed != 0) {
    *err = os_error(f, "cannot close", f->tmp, errno);
    return SQLITE_IOERR;
  }
  int rc = put_in_place(f, err);
  if (rc != SQLITE_OK) return rc;
  sqlite3_free(f->tmp);
  f->tmp = NULL;
  /* The rename is durable once its directory is (some file systems cannot
  ** fsync a directory: nothing more can be done there). */
  char *dir = directory_of(f->path);
  int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  sqlite3_free(dir);
  return SQLITE_OK;
}

void sp_outfile_free(SpOutFile *f) {
  if (f->fd >= 0) close(f->fd);
  if (f->tmp) unlink(f->tmp);
  sqlite3_free(f->tmp);
  sqlite3_free(f->path);
  memset(f, 0, sizeof *f);
  f->fd = -1;
}

void sp_outfile_result_error(sqlite3_context *ctx, const char *fn, int rc, char *err) {
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    sqlite3_free(err);
    err = sp_interrupted(fn, "nothing was written");
  }
  sp_result_error_rc(ctx, rc, err);
}
