// release_fixture.mjs - writes a synthetic copy of the public Deezer release
// (the eight parquet files of tools/release_schema.mjs, same names, columns
// and types) with DuckDB's parquet writer, for the importer's tests and
// benchmark.
//
//   node tools/release_fixture.mjs DIR [--users N] [--songs N] [--row-group N]
//        [--space svd|mf] [--break KIND] [--only FILE,...] [--codec C]
//        [--work-db FILE] [--memory-limit SIZE]
//
// Every value is a closed formula of the ids (below), so a checker can
// recompute what the importer must store without reading the parquet
// (tests/release/check_import.py does, in Python).  The files vary what a
// real writer may vary: codecs (snappy, zstd, gzip, uncompressed, in turn),
// column order (shuffled per file), row order (a different permutation per
// file), row groups, integer and float widths, nulls (whole groups, single
// values, single list elements, ages).  DIR/manifest.json records the
// parameters.
//
// Ids: song j (j < songs) has song_index 1000 + 3 j; user j (j < users)
// has user_index 5 + 7 j and is a training user when j % 10 < 7, a
// validation user when j % 10 < 9, a test user otherwise.
// h(a, b, salt) = (a 7919 + b 104729 + salt 1299709) % 1000003 and
// v(h) = (h - 500001) / 4099 (a double; NULL when h % 97 = 0 in embedding
// lists, h % 13 = 0 in feature columns).  Song embedding element i:
// v(h(song_index, i, 1 svd | 2 mf)); warm user embedding element i:
// v(h(user_index, i, 3 | 4)); feature column i of group g (FEATURES
// order): NULL for the whole group when (user_index + 5 g) % 4 = 0, else
// v(h(user_index, 1000 g + i, 5 | 6)); nb_<feature g>: (31 u + 17 g) % 9,
// NULL when (u + g) % 11 = 0; age_value 16 + (13 u) % 60, NULL when
// u % 23 = 0; d1d30_songs: the song_index of songs (7 u + 131 t) % songs
// for t < 20 + u % 60 (at most songs), the first one repeated when
// u % 10 = 3, empty when u % 37 = 0.
//
// --break writes one defect for the importer's error tests: missing-file
// (no user_features_test_mf.parquet), missing-column (no nb_banned_albums
// in user_features_validation_svd.parquet), list-length (one song's
// features_svd one float short), extra-warm-user (user_embeddings has a
// user absent from the training file), missing-warm-user (user_embeddings
// lacks the first training user), duplicate-user (a test user also
// in the validation file), unknown-song (a d1d30_songs entry names no
// song), nan-feature (a feature value NaN).  --space writes the feature
// files of one space only; --only FILE,... writes those files alone (the
// codecs and orders of each file stay as in a full run).  --codec C
// writes every file with codec C (snappy: the default of pandas and
// pyarrow, as the release presumably is).  --work-db puts DuckDB's
// working table in FILE, --memory-limit bounds DuckDB's memory (2GB).
import {
  DuckDBInstance, DuckDBDataChunk, BIGINT, DOUBLE, FLOAT, INTEGER, LIST, listValue,
} from '@duckdb/node-api';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FEATURES, COUNTED, SPACES, SPLITS, SONG_FILE, USER_FILE, featureFile } from './release_schema.mjs';

const CODECS = ['snappy', 'zstd', 'gzip', 'uncompressed'];
const BREAKS = ['missing-file', 'missing-column', 'list-length', 'extra-warm-user',
  'missing-warm-user', 'duplicate-user', 'unknown-song', 'nan-feature'];
const CHUNK = 2048;

const hash = (a, b, salt) => (a * 7919 + b * 104729 + salt * 1299709) % 1000003;
const value = (h) => (h - 500001) / 4099;
const songIndex = (j) => 1000 + 3 * j;
const userIndex = (j) => 5 + 7 * j;
const splitOf = (j) => (j % 10 < 7 ? 'train' : j % 10 < 9 ? 'validation' : 'test');

// A deterministic shuffle (column and row orders).
function shuffled(items, seed) {
  const a = items.slice();
  let s = BigInt(seed) + 0x9e3779b97f4a7c15n;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    const j = Number((s >> 33n) % BigInt(i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Embedding list element i = v(h(id, i, salt)), NULL where h % 97 = 0.
function embedding(id, d, salt) {
  const out = new Array(d);
  for (let i = 0; i < d; i++) {
    const h = hash(id, i, salt);
    out[i] = h % 97 === 0 ? null : value(h);
  }
  return out;
}

function listens(u, songs) {
  if (u % 37 === 0) return [];
  const n = Math.min(20 + (u % 60), songs);
  const out = [];
  for (let t = 0; t < n; t++) out.push(songIndex((7 * u + 131 * t) % songs));
  if (u % 10 === 3) out.push(out[0]);
  return out;
}

const q = (name) => `"${name.replace(/"/g, '""')}"`;

export async function writeRelease(dir, opts = {}) {
  const users = opts.users ?? 200;
  const songs = opts.songs ?? 300;
  const rowGroup = opts.rowGroup ?? 0;
  const brk = opts.break ?? null;
  const spaces = opts.spaces ?? ['svd', 'mf'];
  const only = opts.only ?? null; // write these files alone
  if (brk && !BREAKS.includes(brk)) throw new Error(`unknown --break ${brk}: one of ${BREAKS.join(', ')}`);
  fs.mkdirSync(dir, { recursive: true });
  // A database file beside the output when asked (large fixtures spill to
  // it), else in memory.
  // Spills go to a temporary directory of its own (DuckDB's default is .tmp
  // in the current directory), removed at the end.
  const spill = fs.mkdtempSync(path.join(os.tmpdir(), 'release_fixture-'));
  const files = {};
  const instance = await DuckDBInstance.create(opts.workDb ?? ':memory:',
    { threads: '2', memory_limit: opts.memoryLimit ?? '2GB', preserve_insertion_order: 'true',
      temp_directory: spill });
  try {
    const con = await instance.connect();
    // The table only carries rows to COPY: no time spent compressing it.
    await con.run("SET force_compression = 'uncompressed'");
    let fileNo = 0;

    // Writes one file: columns {name: {type, get(row) -> value}} over rows.
    async function write(file, columns, rows) {
      if (only && !only.includes(file)) {
        fileNo++;
        return;
      }
      const codec = opts.codec ?? CODECS[fileNo % CODECS.length];
      const names = shuffled(Object.keys(columns), 77 + fileNo);
      // Several row groups in the narrow files and in one feature file (few:
      // DuckDB's reader sets up each row group in time quadratic in the
      // number of columns).
      const groupRows = rowGroup ||
        (file === USER_FILE ? 64 : file === featureFile('validation', 'svd') ? 16 : 122880);
      await con.run(`CREATE OR REPLACE TABLE fixture(${names.map((n) => `${q(n)} ${columns[n].type}`).join(', ')})`);
      const appender = await con.createAppender('fixture');
      const types = names.map((n) => columns[n].duck);
      for (let r0 = 0; r0 < rows.length; r0 += CHUNK) {
        const part = rows.slice(r0, r0 + CHUNK);
        const chunk = DuckDBDataChunk.create(types, part.length);
        chunk.setColumns(names.map((n) => part.map(columns[n].get)));
        appender.appendDataChunk(chunk);
        // Appended rows stay in memory until flushed into the table, which
        // (with --work-db) can spill: flush every 8 chunks.
        if ((r0 / CHUNK) % 8 === 7) appender.flushSync();
      }
      appender.closeSync();
      const out = path.join(dir, file).replace(/'/g, "''");
      await con.run(`COPY fixture TO '${out}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${groupRows})`);
      await con.run('DROP TABLE fixture');
      files[file] = { codec, row_group_size: groupRows, columns: names.length, rows: rows.length };
      fileNo++;
    }
    const rowsInOrder = (n, keep, mult) => {
      const rows = [];
      for (let j = 0; j < n; j++) if (keep(j)) rows.push(j);
      return rows.sort((a, b) => ((a * mult) % 1000003) - ((b * mult) % 1000003) || a - b);
    };
    const list = (type) => ({ type: `${type}[]`, duck: LIST(type === 'FLOAT' ? FLOAT : type === 'BIGINT' ? BIGINT : DOUBLE) });
    const scalar = (type) => ({ type, duck: { BIGINT, DOUBLE, FLOAT, INTEGER }[type] });

    const songCols = { song_index: { ...scalar('BIGINT'), get: (j) => BigInt(songIndex(j)) } };
    for (const [sp, salt] of [['svd', 1], ['mf', 2]]) {
      const { dim, songColumn } = SPACES[sp];
      songCols[songColumn] = {
        ...list(sp === 'svd' ? 'DOUBLE' : 'FLOAT'),
        get: (j) => listValue(embedding(songIndex(j), brk === 'list-length' && sp === 'svd' && j === 7 ? dim - 1 : dim, salt)),
      };
    }
    await write(SONG_FILE, songCols, rowsInOrder(songs, () => true, 613));

    // The extra warm user of extra-warm-user is user j = users, beyond the
    // training file.
    const userCols = { user_index: { ...scalar('BIGINT'), get: (j) => BigInt(userIndex(j)) } };
    for (const [sp, salt] of [['svd', 3], ['mf', 4]]) {
      const { dim, userColumn } = SPACES[sp];
      userCols[userColumn] = { ...list('DOUBLE'), get: (j) => listValue(embedding(userIndex(j), dim, salt)) };
    }
    const extra = brk === 'extra-warm-user' ? users : -1;
    const dropped = brk === 'missing-warm-user' ? 0 : -1;
    await write(USER_FILE, userCols, rowsInOrder(users + 1,
      (j) => (j < users && splitOf(j) === 'train' && j !== dropped) || j === extra, 389).reverse());

    for (const [sp, salt] of [['svd', 5], ['mf', 6]]) {
      if (!spaces.includes(sp)) continue;
      const d = SPACES[sp].dim;
      const floatType = sp === 'svd' ? 'DOUBLE' : 'FLOAT';
      for (const { file } of SPLITS) {
        const name = featureFile(file, sp);
        if (brk === 'missing-file' && name === featureFile('test', 'mf')) continue;
        const cols = {
          user_index: file === 'validation'
            ? { ...scalar('INTEGER'), get: (j) => userIndex(j) }
            : { ...scalar('BIGINT'), get: (j) => BigInt(userIndex(j)) },
          d1d30_songs: {
            ...list('BIGINT'),
            get: (j) => {
              const l = listens(userIndex(j), songs);
              if (brk === 'unknown-song' && j === 2) l.push(999999);
              return listValue(l.map(BigInt));
            },
          },
        };
        FEATURES.forEach((f, g) => {
          for (let i = 0; i < d; i++) {
            const nan = brk === 'nan-feature' && name === featureFile('train', 'svd') && g === 3 && i === 5;
            cols[`${f}_embedding${i}`] = {
              ...scalar(floatType),
              get: (j) => {
                const u = userIndex(j);
                if (nan && j === 0) return NaN;
                const h = hash(u, 1000 * g + i, salt);
                return (u + 5 * g) % 4 === 0 || h % 13 === 0 ? null : value(h);
              },
            };
          }
        });
        COUNTED.forEach((f) => {
          const g = FEATURES.indexOf(f);
          cols[`nb_${f}`] = sp === 'svd'
            ? { ...scalar('BIGINT'), get: (j) => { const u = userIndex(j); return (u + g) % 11 === 0 ? null : BigInt((31 * u + 17 * g) % 9); } }
            : { ...scalar('DOUBLE'), get: (j) => { const u = userIndex(j); return (u + g) % 11 === 0 ? null : (31 * u + 17 * g) % 9; } };
        });
        cols.age_value = { ...scalar('DOUBLE'), get: (j) => { const u = userIndex(j); return u % 23 === 0 ? null : 16 + ((13 * u) % 60); } };
        if (brk === 'missing-column' && name === featureFile('validation', 'svd')) delete cols.nb_banned_albums;
        const keep = brk === 'duplicate-user' && file === 'validation'
          ? (j) => splitOf(j) === file || j === 9
          : (j) => splitOf(j) === file;
        await write(name, cols, rowsInOrder(users, keep, 101 + 2 * fileNo));
      }
    }
    con.closeSync();
  } finally {
    instance.closeSync();
    fs.rmSync(spill, { recursive: true, force: true });
  }
  const manifest = { users, songs, spaces, break: brk, files };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}
async function main(argv) {
  const opts = {};
  let dir = null;
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a];
    const value = () => {
      if (a + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++a];
    };
    if (arg === '--users') opts.users = Number(value());
    else if (arg === '--songs') opts.songs = Number(value());
    else if (arg === '--row-group') opts.rowGroup = Number(value());
    else if (arg === '--break') opts.break = value();
    else if (arg === '--space') opts.spaces = [value()];
    else if (arg === '--only') opts.only = value().split(',');
    else if (arg === '--work-db') opts.workDb = value();
    else if (arg === '--codec') opts.codec = value();
    else if (arg === '--memory-limit') opts.memoryLimit = value();
    else if (arg.startsWith('-') || dir) throw new Error(`unexpected argument ${arg}`);
    else dir = arg;
  }
  if (!dir) throw new Error('usage: node tools/release_fixture.mjs DIR [--users N] [--songs N] [--row-group N] [--space svd|mf] [--break KIND] [--only FILE,...]');
  for (const k of ['users', 'songs', 'rowGroup'])
    if (opts[k] !== undefined && !(Number.isInteger(opts[k]) && opts[k] > 0))
      throw new Error(`--${k} must be a positive integer`);
  await writeRelease(dir, opts);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`release_fixture: ${e.message}`);
    process.exit(1);
  });
}
