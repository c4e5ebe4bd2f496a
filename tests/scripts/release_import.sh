#!/bin/sh
# The release importer (tools/import_release.mjs) on fixtures written by a
# real parquet writer (DuckDB's, through tools/release_fixture.mjs) with the
# release's file names, columns and types: 200 users and 300 songs, both
# spaces, nulls, four codecs, shuffled columns, users in another order in
# every file.  tests/release/check_import.py recomputes every value from the
# fixture's formulas and compares it with the databases.  Then bad input:
# a missing file, a missing column, a wrong list length, users in two
# splits, warm users without an embedding and embeddings without a user,
# an unknown song, a NaN, an existing output: each a clear error naming
# the file and the value at fault, with no database or temporary file
# left behind.  Fixtures are kept in build/release-fixture between runs
# (tests/release/fixture.sh), so later runs only import.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Node and python3 carry no code of the extension: no sanitizer runtime.
unset LD_PRELOAD
. tests/release/fixture.sh
good=$(fixture good --users 200 --songs 300)
small=$(fixture small --users 30 --songs 40 --space svd)

node tools/import_release.mjs "$good" --space both --out-dir "$tmp" --quiet
for space in svd mf; do
  /usr/bin/python3 tests/release/check_import.py "$tmp/deezer_$space.db" "$space" 200 300 sql/schema.sql
done

# An existing database is kept unless --force.
before=$(sha1sum < "$tmp/deezer_svd.db")
if node tools/import_release.mjs "$good" --out "$tmp/deezer_svd.db" --quiet 2>"$tmp/err"; then
  echo "an existing database was overwritten without --force"
  exit 1
fi
grep -q "deezer_svd.db exists; pass --force to replace it" "$tmp/err" || { cat "$tmp/err"; exit 1; }
[ "$(sha1sum < "$tmp/deezer_svd.db")" = "$before" ] || { echo "the existing database changed"; exit 1; }

expect_error() { # expect_error KIND FILE MESSAGE: a broken copy of the small fixture
  kind=$1 file=$2 message=$3
  bad="$tmp/bad-$kind"
  mkdir -p "$bad" "$tmp/out-$kind"
  for f in "$small"/*.parquet; do ln -s "$f" "$bad/$(basename "$f")"; done
  rm "$bad/$file"
  if [ "$kind" != missing-file ]; then
    broken=$(fixture "$kind" --users 30 --songs 40 --space svd --break "$kind" --only "$file")
    ln -s "$broken/$file" "$bad/$file"
  fi
  if node tools/import_release.mjs "$bad" --out-dir "$tmp/out-$kind" --quiet 2>"$tmp/err"; then
    echo "$kind: the import should have failed"
    exit 1
  fi
  if ! grep -qF "$message" "$tmp/err"; then
    echo "$kind: expected the error \"$message\", got:"
    cat "$tmp/err"
    exit 1
  fi
  if [ -n "$(ls -A "$tmp/out-$kind")" ]; then
    echo "$kind: files left behind: $(ls -A "$tmp/out-$kind")"
    exit 1
  fi
  echo "$kind: $(cat "$tmp/err")"
}
expect_error missing-file user_features_test_svd.parquet \
  "lacks user_features_test_svd.parquet"
expect_error missing-column user_features_validation_svd.parquet \
  "user_features_validation_svd.parquet lacks column nb_banned_albums"
expect_error list-length song_embeddings.parquet \
  "song_embeddings.parquet: song_index 1021 has an embedding of 127 floats, expected 128"
expect_error extra-warm-user user_embeddings.parquet \
  "user_embeddings.parquet: user_index 215 is in no user_features file"
expect_error missing-warm-user user_embeddings.parquet \
  "training user 5 of user_features_train_svd.parquet has no row in user_embeddings.parquet"
expect_error duplicate-user user_features_validation_svd.parquet \
  "user_index 68 appears in both user_features_validation_svd.parquet and user_features_test_svd.parquet"
expect_error unknown-song user_features_train_svd.parquet \
  "d1d30_songs of user_index 19 names song_index 999999, absent from song_embeddings.parquet"
expect_error nan-feature user_features_train_svd.parquet \
  "user_features_train_svd.parquet: user_index 5, column favorite_artists_embedding5 is NaN"
echo "release import ok"
