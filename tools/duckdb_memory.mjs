// duckdb_memory.mjs - the memory DuckDB may use in the release tools
// (tools/import_release.mjs, tools/release_fixture.mjs), and the peak the
// process reached, for their reports.
//
// DuckDB's memory_limit bounds its buffer manager (parquet pages being
// decoded, results waiting to be fetched, tables being written): when it is
// reached DuckDB spills or, where it cannot, fails with "Out of Memory".  A
// fixed small limit fails on wide files (a parquet reader holds a page of
// each of the ~2600 or ~5100 columns it reads), so the default is a share
// of this machine's memory: a quarter, at least 1 GiB.  It is a ceiling,
// not what is used: the importer of the release-sized fixture peaks near
// 1.2 GiB (README.md, "The public Deezer release").
import os from 'node:os';

export function defaultMemoryLimit() {
  const mib = Math.max(1024, Math.floor(os.totalmem() / 4 / 2 ** 20));
  return `${mib}MiB`;
}

// Whether size is a memory size as DuckDB reads it: a number and a unit
// (e.g. 512MB, 6GiB).
export const isMemorySize = (size) => /^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(size);

// The process's peak resident memory so far, MiB (DuckDB's native memory
// included: it is the same process).
export const peakMemoryMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
