# fixture.sh - sourced by the tests that need parquet fixtures of the
# public release (tests/scripts/release_import.sh, pipeline_release.sh),
# from the project directory.  Fixtures are written once by tools/
# release_fixture.mjs into build/release-fixture and reused while the
# generator, the schema and the npm lock file are unchanged (their hash
# keys the directory names).
# shellcheck shell=sh
fixture_key=$(cat tools/release_fixture.mjs tools/release_schema.mjs tools/package-lock.json |
  sha1sum | cut -c1-12)
fixture_dir="$(pwd)/build/release-fixture"
mkdir -p "$fixture_dir"

fixture() { # fixture NAME ARGS...: the fixture's directory, generated if missing
  dir="$fixture_dir/$1-$fixture_key"
  shift
  if [ ! -f "$dir/manifest.json" ]; then
    rm -rf "$dir.new"
    node tools/release_fixture.mjs "$dir.new" "$@" >/dev/null
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  fi
  echo "$dir"
}

imported() { # imported FIXTURE_DIR: deezer_svd.db and deezer_mf.db imported from it
  # (both spaces), kept beside the fixture while the importer and
  # sql/schema.sql are unchanged; prints their directory.  Copy before use.
  out="$1-imported-$(cat tools/import_release.mjs sql/schema.sql | sha1sum | cut -c1-12)"
  if [ ! -f "$out/deezer_mf.db" ]; then
    rm -rf "$out.new"
    mkdir -p "$out.new"
    node tools/import_release.mjs "$1" --space both --out-dir "$out.new" --quiet
    rm -rf "$out"
    mv "$out.new" "$out"
  fi
  echo "$out"
}
