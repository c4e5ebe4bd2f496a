-- lib/f32.sql - float32 vector BLOBs decoded in plain SQL, so that tests
-- can compute their references without the extension's own functions.
-- Fill f32_input(kind, id, b) with the BLOBs to decode; the view
-- f32_components(kind, id, j, x) yields component j (from 0) of each, as
-- the exact double value of the float: IEEE 754 binary32, little-endian,
-- sign * (1 + mantissa / 2^23) * 2^(exponent - 127), subnormals
-- mantissa * 2^-149 (no infinities or NaN: vectors never hold them).
-- Read with .read lib/f32.sql from tests/sql.
CREATE TEMP TABLE f32_input(kind TEXT, id INTEGER, b BLOB);
CREATE TEMP VIEW f32_components(kind, id, j, x) AS
WITH RECURSIVE
  pos(kind, id, b, j) AS (
    SELECT kind, id, b, 0 FROM f32_input WHERE length(b) >= 4
    UNION ALL
    SELECT kind, id, b, j + 1 FROM pos WHERE 4 * (j + 2) <= length(b)),
  -- The 8 hex digits of the 4 bytes, then each byte's value.
  hexed(kind, id, j, h) AS (SELECT kind, id, j, hex(substr(b, 4 * j + 1, 4)) FROM pos),
  bytes(kind, id, j, b0, b1, b2, b3) AS (
    SELECT kind, id, j,
      16 * (instr('0123456789ABCDEF', substr(h, 1, 1)) - 1) + instr('0123456789ABCDEF', substr(h, 2, 1)) - 1,
      16 * (instr('0123456789ABCDEF', substr(h, 3, 1)) - 1) + instr('0123456789ABCDEF', substr(h, 4, 1)) - 1,
      16 * (instr('0123456789ABCDEF', substr(h, 5, 1)) - 1) + instr('0123456789ABCDEF', substr(h, 6, 1)) - 1,
      16 * (instr('0123456789ABCDEF', substr(h, 7, 1)) - 1) + instr('0123456789ABCDEF', substr(h, 8, 1)) - 1
    FROM hexed),
  -- Little-endian: b3 holds the sign and the high exponent bits.
  fields(kind, id, j, sign, expo, mant) AS (
    SELECT kind, id, j, b3 / 128, (b3 % 128) * 2 + b2 / 128, ((b2 % 128) * 256 + b1) * 256 + b0
    FROM bytes)
SELECT kind, id, j,
  (1 - 2 * sign) * CASE WHEN expo = 0 THEN mant * pow(2, -149)
                        ELSE (mant + 8388608) * pow(2, expo - 150) END
FROM fields;
