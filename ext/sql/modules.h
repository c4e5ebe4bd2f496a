/*
** modules.h - one registration function per binding file; the entry file
** (ext/semiperso.c) calls each in turn.
*/
#ifndef SEMIPERSO_SQL_MODULES_H
#define SEMIPERSO_SQL_MODULES_H

#include "sqlite3ext.h"

int sp_register_info(sqlite3 *db, char **pzErrMsg);
int sp_register_vectors(sqlite3 *db, char **pzErrMsg);
int sp_register_metrics(sqlite3 *db, char **pzErrMsg);
int sp_register_embedder(sqlite3 *db, char **pzErrMsg);
int sp_register_synth(sqlite3 *db, char **pzErrMsg);
int sp_register_features(sqlite3 *db, char **pzErrMsg);
int sp_register_scripting(sqlite3 *db, char **pzErrMsg);
int sp_register_top_items(sqlite3 *db, char **pzErrMsg);
int sp_register_segments(sqlite3 *db, char **pzErrMsg);
int sp_register_topk(sqlite3 *db, char **pzErrMsg);

#endif
