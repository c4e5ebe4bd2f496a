// import_release.mjs - imports the public Deezer release (Zenodo record
// 5121674: eight parquet files, described in tools/release_schema.mjs)
// into SQLite databases holding semiperso's dataset tables.
//
//   node tools/import_release.mjs RELEASE_DIR [--space svd|mf|both]
//        [--out FILE | --out-dir DIR] [--force] [--quiet]
//
// One database per space: deezer_svd.db (d = 128) and deezer_mf.db
// (d = 256) in --out-dir (default: the current directory), or --out FILE
// for a single space (default space: svd).  An existing database is
// replaced only with --force.  Each holds the tables of sql/schema.sql:
//   tracks          track_id = song_index, embedding = features_<space>
//                   (album_id, artist_id NULL: the release has none)
//   users           user_id = user_index; split warm (the train files),
//                   validation or test; age = age_value; embedding =
//                   <space>_embeddings for warm users; country NULL
//   user_features   the feature columns in the layout sql/features.sql builds
//                   (20 groups of d floats, the 18 counts, the age) as
//                   little-endian float32 BLOBs; nulls become 0
//   future_listens  (user_id, track_id) for each distinct song of
//                   d1d30_songs (repeats counted in dataset_info)
// registration_events, playlist_tracks and settings stay empty, and the
// table dataset_info(name, value) of sql/schema.sql records what was
// imported and what the release lacks (the rows written by recordInfo
// below; the pipeline reads them).
//
// Columns are matched by name (any order), users joined on user_index.
// Parquet is read by DuckDB (any codec: snappy, zstd, gzip, brotli, lz4,
// uncompressed), streamed in chunks of 2048 rows, so memory stays bounded
// whatever the file sizes.  Writes go to a temporary database beside the
// output, renamed over it only once everything is imported and checked:
// on any error (missing file or column, wrong list length, users in two
// splits, warm users without an embedding or the reverse, a song id that
// names no song, NaN or infinite values) nothing is left behind.
import Database from 'better-sqlite3';
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FEATURES, COUNTED, SPACES, SPLITS, SONG_FILE, USER_FILE, featureFile } from './release_schema.mjs';

const SCHEMA_SQL = new URL('../sql/schema.sql', import.meta.url);
const SOURCE = 'Deezer semi-personalized user cold start release (Zenodo record 5121674)';
// DuckDB's share of memory: it streams, so this bounds its buffers only.
const DUCKDB_MEMORY = '512MB';
const FLOAT_MAX = 3.4028234663852886e38;

class ImportError extends Error {}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
  'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);
const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE']);
const isInteger = (t) => INTEGER_TYPES.has(t);
const isNumber = (t) => isInteger(t) || FLOAT_TYPES.has(t) || /^DECIMAL\(\d+,\d+\)$/.test(t);
// A list (FLOAT[]) or fixed array (FLOAT[128]): its element type.
const elementType = (t) => (/^(.*)\[\d*\]$/.exec(t) || [])[1] ?? null;

const quoteId = (name) => `"${name.replace(/"/g, '""')}"`;
const quoteStr = (s) => `'${s.replace(/'/g, "''")}'`;

function log(opts, msg) {
  if (!opts.quiet) process.stderr.write(`import_release: ${msg}\n`);
}

// Column names and DuckDB types of a parquet file.
async function describe(con, file) {
  const reader = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoteStr(file)})`);
  const cols = new Map();
  for (const row of reader.getRowObjects()) cols.set(row.column_name, String(row.column_type));
  return cols;
}

function requireColumn(cols, name, column, check, what) {
  const type = cols.get(column);
  if (type === undefined) throw new ImportError(`${name} has no column ${column} (${what})`);
  if (!check(type)) throw new ImportError(`${name}: column ${column} is ${type}, expected ${what}`);
}

// The feature columns of a user_features file in the order of our layout.
// Embedding columns are <feature>_embedding<i>, i from 0 (as the release
// documents; 1 .. d is accepted too); exactly d per feature.
function featureLayout(cols, name, d) {
  const out = [];
  const missing = [];
  for (const f of FEATURES) {
    const re = new RegExp(`^${f}_embedding(\\d+)$`);
    const found = [...cols.keys()].filter((c) => re.test(c));
    const base = cols.has(`${f}_embedding0`) ? 0 : 1;
    if (found.length > d)
      throw new ImportError(`${name} has ${found.length} columns ${f}_embedding<i>, more than d = ${d}: ` +
        'is it the file of the other space?');
    for (let i = base; i < base + d; i++) {
      const c = `${f}_embedding${i}`;
      if (cols.has(c)) out.push(c);
      else missing.push(c);
    }
  }
  for (const f of COUNTED) (cols.has(`nb_${f}`) ? out : missing).push(`nb_${f}`);
  (cols.has('age_value') ? out : missing).push('age_value');
  if (missing.length > 0)
    throw new ImportError(`${name} lacks column${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}` +
      `${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} of the release's layout for d = ${d}`);
  for (const c of out)
    if (!isNumber(cols.get(c)))
      throw new ImportError(`${name}: column ${c} is ${cols.get(c)}, expected a number`);
  const known = new Set(['user_index', 'd1d30_songs', ...out]);
  const ignored = [...cols.keys()].filter((c) => !known.has(c));
  return { columns: out, ignored };
}

// A SELECT item reading column c as a JS number: floats as they are,
// integers and decimals cast to DOUBLE by DuckDB.
function asNumber(c, type) {
  return FLOAT_TYPES.has(type) ? quoteId(c) : `CAST(${quoteId(c)} AS DOUBLE)`;
}

// Streams the rows of `sql`, calling onChunk(chunk) for each chunk.
async function stream(con, sql, onChunk) {
  const result = await con.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    onChunk(chunk);
  }
}

// An id column value (BIGINT read as bigint) as a safe JS integer.
function idValue(x, file, column) {
  if (x === null) throw new ImportError(`${file}: a row has a NULL ${column}`);
  const n = Number(x);
  if (!Number.isSafeInteger(n)) throw new ImportError(`${file}: ${column} ${x} is out of range`);
  return n;
}

// Fills out[0 .. d) with the float32 elements of list row r (nulls 0).
function readEmbedding(vec, r, d, out, file, what) {
  const len = vec.getEntryLength(r);
  if (vec.getItem(r) === null) throw new ImportError(`${file}: ${what} has no embedding (NULL)`);
  if (len !== d) throw new ImportError(`${file}: ${what} has an embedding of ${len} floats, expected ${d}`);
  const child = vec.childVector;
  const off = vec.getEntryOffset(r);
  for (let i = 0; i < d; i++) {
    const x = child.getItem(off + i);
    const f = Math.fround(x === null ? 0 : Number(x));
    if (!(Math.abs(f) <= FLOAT_MAX))
      throw new ImportError(`${file}: ${what} has a non-finite or out of range float (${x}) at ${i}`);
    out[i] = f;
  }
}

const blobOf = (f32, o, n) => Buffer.from(f32.buffer, f32.byteOffset + o * 4, n * 4);

// Streams (id, embedding) rows of song_embeddings or user_embeddings:
// onRow(id, blob) gets each id and its d floats as a float32 BLOB.
async function streamEmbeddings(con, file, idColumn, listColumn, d, onRow) {
  const name = path.basename(file);
  const buf = new Float32Array(d);
  await stream(con, `SELECT CAST(${quoteId(idColumn)} AS BIGINT), ${quoteId(listColumn)} ` +
    `FROM read_parquet(${quoteStr(file)})`, (chunk) => {
    const ids = chunk.getColumnVector(0);
    const lists = chunk.getColumnVector(1);
    for (let r = 0; r < chunk.rowCount; r++) {
      const id = idValue(ids.getItem(r), name, idColumn);
      readEmbedding(lists, r, d, buf, name, `${idColumn} ${id}`);
      onRow(id, blobOf(buf, 0, d));
    }
  });
}

// Checks the columns of every file a space needs before anything is read:
// a wrong file fails at once.  Returns the feature files' layouts.
async function checkSchemas(con, dir, space) {
  const { dim: d, songColumn, userColumn } = SPACES[space];
  const listOfNumbers = (t) => isNumber(elementType(t) ?? '');
  const songs = await describe(con, path.join(dir, SONG_FILE));
  requireColumn(songs, SONG_FILE, 'song_index', isInteger, 'integers');
  requireColumn(songs, SONG_FILE, songColumn, listOfNumbers, 'a list of numbers');
  const users = await describe(con, path.join(dir, USER_FILE));
  requireColumn(users, USER_FILE, 'user_index', isInteger, 'integers');
  requireColumn(users, USER_FILE, userColumn, listOfNumbers, 'a list of numbers');
  const layouts = {};
  for (const { file: splitFile } of SPLITS) {
    const name = featureFile(splitFile, space);
    const cols = await describe(con, path.join(dir, name));
    requireColumn(cols, name, 'user_index', isInteger, 'integers');
    requireColumn(cols, name, 'd1d30_songs', (t) => isInteger(elementType(t) ?? ''), 'a list of song_index');
    layouts[name] = { ...featureLayout(cols, name, d), types: cols };
  }
  return layouts;
}

async function importTracks(ctx) {
  const { con, db, dir, space, opts } = ctx;
  const { dim: d, songColumn } = SPACES[space];
  const file = path.join(dir, SONG_FILE);
  const insert = db.prepare('INSERT INTO tracks(track_id, embedding) VALUES (?, ?)');
  const t0 = Date.now();
  await streamEmbeddings(con, file, 'song_index', songColumn, d, (id, blob) => {
    if (ctx.songs.has(id)) throw new ImportError(`${SONG_FILE}: song_index ${id} appears twice`);
    insert.run(id, blob);
    ctx.songs.add(id);
  });
  if (ctx.songs.size === 0) throw new ImportError(`${SONG_FILE} holds no song`);
  ctx.files[SONG_FILE] = { rows: ctx.songs.size };
  log(opts, `${SONG_FILE}: ${ctx.songs.size} tracks, d = ${d} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

async function importFeatures(ctx, split, splitFile) {
  const { con, db, dir, space, opts } = ctx;
  const d = SPACES[space].dim;
  const name = featureFile(splitFile, space);
  const file = path.join(dir, name);
  const { columns, ignored, types: cols } = ctx.layouts[name];
  if (ignored.length > 0) {
    log(opts, `${name}: ignoring column${ignored.length > 1 ? 's' : ''} ${ignored.join(', ')}`);
    ctx.ignored[name] = ignored;
  }
  const D = columns.length;
  const insertUser = db.prepare('INSERT INTO users(user_id, split, age) VALUES (?, ?, ?)');
  const splitOf = db.prepare('SELECT split FROM users WHERE user_id = ?').pluck();
  const insertFeatures = db.prepare('INSERT INTO user_features(user_id, features) VALUES (?, ?)');
  const insertListen = db.prepare('INSERT INTO future_listens(user_id, track_id) VALUES (?, ?)');
  const select = ['CAST(user_index AS BIGINT)', 'CAST(d1d30_songs AS BIGINT[])',
    ...columns.map((c) => asNumber(c, cols.get(c)))].join(', ');
  let buf = null;
  let users = 0;
  const t0 = Date.now();
  await stream(con, `SELECT ${select} FROM read_parquet(${quoteStr(file)})`, (chunk) => {
    const n = chunk.rowCount;
    if (!buf || buf.length < n * D) buf = new Float32Array(n * D);
    // Column by column into row-major vectors: nulls 0, floats rounded to
    // float32 as they are stored.
    for (let c = 0; c < D; c++) {
      const vec = chunk.getColumnVector(c + 2);
      for (let r = 0, o = c; r < n; r++, o += D) {
        const x = vec.getItem(r);
        buf[o] = x === null ? 0 : x;
      }
    }
    for (let i = 0; i < n * D; i++) {
      if (!(Math.abs(buf[i]) <= FLOAT_MAX)) {
        const r = Math.floor(i / D);
        const id = chunk.getColumnVector(0).getItem(r);
        throw new ImportError(`${name}: user_index ${id}, column ${columns[i % D]} is ` +
          `${chunk.getColumnVector(2 + (i % D)).getItem(r)}: not a finite float32`);
      }
    }
    const ids = chunk.getColumnVector(0);
    const ages = chunk.getColumnVector(1 + D);
    const lists = chunk.getColumnVector(1);
    const songs = lists.childVector;
    for (let r = 0; r < n; r++) {
      const id = idValue(ids.getItem(r), name, 'user_index');
      try {
        insertUser.run(id, split, ages.getItem(r));
      } catch (e) {
        if (e.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
        const other = splitOf.get(id);
        const where = other === split ? `twice in ${name}`
          : `in both ${featureFile(SPLITS.find((s) => s.split === other).file, space)} and ${name}`;
        throw new ImportError(`user_index ${id} appears ${where}`);
      }
      insertFeatures.run(id, blobOf(buf, r * D, D));
      if (lists.getItem(r) === null) continue;
      const off = lists.getEntryOffset(r);
      const len = lists.getEntryLength(r);
      const seen = new Set();
      for (let t = 0; t < len; t++) {
        const s = songs.getItem(off + t);
        if (s === null) throw new ImportError(`${name}: d1d30_songs of user_index ${id} holds a NULL`);
        const song = Number(s);
        if (!ctx.songs.has(song))
          throw new ImportError(`${name}: d1d30_songs of user_index ${id} names song_index ${s}, ` +
            `absent from ${SONG_FILE}`);
        if (seen.has(song)) {
          ctx.repeats++;
          continue;
        }
        seen.add(song);
        insertListen.run(id, song);
        ctx.listens++;
      }
    }
    users += n;
    if (!opts.quiet && users % 20480 < n && users >= 20480)
      log(opts, `${name}: ${users} users...`);
  });
  ctx.files[name] = { rows: users };
  ctx.counts[split] = users;
  log(opts, `${name}: ${users} ${split} users, ${D} features each (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

async function importEmbeddings(ctx) {
  const { con, db, dir, space, opts } = ctx;
  const { dim: d, userColumn } = SPACES[space];
  const trainFile = featureFile('train', space);
  const file = path.join(dir, USER_FILE);
  const update = db.prepare("UPDATE users SET embedding = ? WHERE user_id = ? AND split = 'warm' AND embedding IS NULL");
  const lookup = db.prepare('SELECT split, embedding IS NOT NULL AS has FROM users WHERE user_id = ?');
  let rows = 0;
  const t0 = Date.now();
  await streamEmbeddings(con, file, 'user_index', userColumn, d, (id, blob) => {
    if (update.run(blob, id).changes === 1) {
      rows++;
      return;
    }
    const u = lookup.get(id);
    if (!u) throw new ImportError(`${USER_FILE}: user_index ${id} is in no user_features file`);
    if (u.split !== 'warm')
      throw new ImportError(`${USER_FILE}: user_index ${id} is a ${u.split} user, not a training user of ${trainFile}`);
    throw new ImportError(`${USER_FILE}: user_index ${id} appears twice`);
  });
  const bare = db.prepare("SELECT user_id FROM users WHERE split = 'warm' AND embedding IS NULL LIMIT 1").pluck().get();
  if (bare !== undefined)
    throw new ImportError(`training user ${bare} of ${trainFile} has no row in ${USER_FILE}`);
  ctx.files[USER_FILE] = { rows };
  log(opts, `${USER_FILE}: ${rows} warm user embeddings (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

// The parquet codecs each file uses, for the record.
async function codecs(con, file) {
  const reader = await con.runAndReadAll(
    `SELECT DISTINCT compression FROM parquet_metadata(${quoteStr(file)}) ORDER BY 1`);
  return reader.getRows().map((r) => String(r[0]));
}

function recordInfo(ctx) {
  const { db, space } = ctx;
  const put = db.prepare('INSERT INTO dataset_info(name, value) VALUES (?, ?)');
  const rows = [
    ['source', SOURCE],
    ['space', space],
    ['dim', SPACES[space].dim],
    // user_features are the release's, ready-made: sql/features.sql must
    // not recompute them (there are no registration events to do it from).
    ['features', 'given'],
    // What the release does not carry, so steps needing it can say so.
    ['registration_events', 'absent'],
    ['countries', 'absent'],
    ['track_metadata', 'absent'], // album_id, artist_id, playlists
    ['listens', 'absent'],        // warm users' listening history
    ['tracks', ctx.songs.size],
    ['users_warm', ctx.counts.warm],
    ['users_validation', ctx.counts.validation],
    ['users_test', ctx.counts.test],
    ['future_listens', ctx.listens],
    ['future_listens_repeats', ctx.repeats], // repeated d1d30_songs entries, stored once
    ['files', JSON.stringify(ctx.files)],
    ['imported_at', new Date().toISOString()],
    ['importer', 'tools/import_release.mjs'],
  ];
  if (Object.keys(ctx.ignored).length > 0) rows.push(['ignored_columns', JSON.stringify(ctx.ignored)]);
  for (const [k, v] of rows) put.run(k, v);
}

async function importSpace(con, dir, space, layouts, out, opts) {
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.importing-${process.pid}`);
  cleanup.add(tmp);
  const t0 = Date.now();
  try {
    fs.rmSync(tmp, { force: true });
    const db = new Database(tmp);
    try {
      // Safe to skip the journal and syncs: the file is renamed into place
      // only when complete.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('cache_size = -131072');
      const schema = fs.readFileSync(SCHEMA_SQL, 'utf8');
      db.exec(schema);
      // Indexes are built once at the end (sorting beats inserting into
      // them row by row): drop schema.sql's, then run it again.
      for (const idx of db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").pluck().all())
        db.exec(`DROP INDEX ${quoteId(idx)}`);
      const ctx = { con, db, dir, space, opts, layouts, songs: new Set(), files: {}, ignored: {}, counts: {},
        listens: 0, repeats: 0 };
      db.exec('BEGIN');
      await importTracks(ctx);
      for (const { split, file } of SPLITS) await importFeatures(ctx, split, file);
      await importEmbeddings(ctx);
      for (const f of Object.keys(ctx.files)) {
        ctx.files[f].bytes = fs.statSync(path.join(dir, f)).size;
        ctx.files[f].codecs = await codecs(con, path.join(dir, f));
      }
      recordInfo(ctx);
      db.exec(schema);
      db.exec('COMMIT');
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    fs.renameSync(tmp, out);
    cleanup.delete(tmp);
    log(opts, `${out}: done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    if (cleanup.has(tmp)) {
      fs.rmSync(tmp, { force: true });
      cleanup.delete(tmp);
    }
  }
}

// Temporary databases and directories to remove if the process is stopped.
const cleanup = new Set();

function parseArgs(argv) {
  const opts = { space: 'svd', out: null, outDir: '.', force: false, quiet: false, dir: null };
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a];
    const value = () => {
      if (a + 1 >= argv.length) throw new ImportError(`${arg} needs a value`);
      return argv[++a];
    };
    if (arg === '--space') opts.space = value();
    else if (arg === '--out') opts.out = value();
    else if (arg === '--out-dir') opts.outDir = value();
    else if (arg === '--force') opts.force = true;
    else if (arg === '--quiet') opts.quiet = true;
    else if (arg === '--help' || arg === '-h') opts.help = true;
    else if (arg.startsWith('-') || opts.dir !== null) throw new ImportError(`unexpected argument ${arg}`);
    else opts.dir = arg;
  }
  return opts;
}

const USAGE = 'usage: node tools/import_release.mjs RELEASE_DIR [--space svd|mf|both] ' +
  '[--out FILE | --out-dir DIR] [--force] [--quiet]';

export async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (opts.dir === null) throw new ImportError(USAGE);
  if (os.endianness() !== 'LE') throw new ImportError('this importer writes float32 BLOBs on little-endian machines only');
  const spaces = opts.space === 'both' ? ['svd', 'mf'] : [opts.space];
  if (!spaces.every((s) => s in SPACES)) throw new ImportError(`--space must be svd, mf or both, not ${opts.space}`);
  if (opts.out !== null && spaces.length > 1) throw new ImportError('--out names one database: with --space both use --out-dir');
  const outs = spaces.map((s) => opts.out ?? path.join(opts.outDir, `deezer_${s}.db`));
  // Everything a space needs must be there before anything is written.
  const needed = [SONG_FILE, USER_FILE, ...spaces.flatMap((s) => SPLITS.map(({ file }) => featureFile(file, s)))];
  if (!fs.existsSync(opts.dir) || !fs.statSync(opts.dir).isDirectory())
    throw new ImportError(`${opts.dir} is not a directory`);
  const missing = needed.filter((f) => !fs.existsSync(path.join(opts.dir, f)));
  if (missing.length > 0)
    throw new ImportError(`${opts.dir} lacks ${missing.join(', ')} (the release's files: ` +
      'download them from Zenodo record 5121674)');
  for (const out of outs) {
    if (fs.existsSync(out) && !opts.force) throw new ImportError(`${out} exists; pass --force to replace it`);
    if (!fs.existsSync(path.dirname(out))) throw new ImportError(`no directory ${path.dirname(out)} for ${out}`);
  }
  // DuckDB spills to its temp_directory (by default .tmp in the current
  // directory): a private one, removed at the end.
  const spill = fs.mkdtempSync(path.join(os.tmpdir(), 'import_release-'));
  cleanup.add(spill);
  const instance = await DuckDBInstance.create(':memory:',
    { threads: '2', memory_limit: DUCKDB_MEMORY, temp_directory: spill });
  const con = await instance.connect();
  try {
    // Every file's columns are checked before any database is written.
    const layouts = [];
    for (const space of spaces) layouts.push(await checkSchemas(con, opts.dir, space));
    for (let i = 0; i < spaces.length; i++) await importSpace(con, opts.dir, spaces[i], layouts[i], outs[i], opts);
  } finally {
    con.closeSync();
    instance.closeSync();
    fs.rmSync(spill, { recursive: true, force: true });
    cleanup.delete(spill);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      for (const f of cleanup) fs.rmSync(f, { recursive: true, force: true });
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  main(process.argv.slice(2)).catch((e) => {
    // Errors of the input are said plainly; anything else with its stack.
    const msg = e instanceof ImportError ? e.message : (e.stack || String(e));
    process.stderr.write(`import_release: ${msg}\n`);
    process.exit(1);
  });
}
