-- normal_cdf, normal_quantile (ext/sql/stats.c) and stable_hash
-- (ext/sql/hash.c).  Normal values from printed tables: Phi(1.96) =
-- 0.975002, Phi(-1) = 0.158655; z(0.975) = 1.959964, z(0.995) = 2.575829,
-- z(0.8) = 0.841621.
.bail off
.mode list

SELECT normal_cdf(0), printf('%.6f %.6f', normal_cdf(1.96), normal_cdf(-1));
SELECT printf('%.6f %.6f %.6f', normal_quantile(0.975), normal_quantile(0.995),
              normal_quantile(0.8));
-- A two-sided p-value at the 5 % critical value: 2 (1 - Phi(1.959964)) = 0.05.
SELECT printf('%.6f', 2 * normal_cdf(-normal_quantile(0.975)));
-- INTEGER arguments are numbers; NULL gives NULL, as SQLite's math functions.
SELECT normal_cdf(2) = normal_cdf(2.0), quote(normal_cdf(NULL)), quote(normal_quantile(NULL));
-- Far tails do not round to 0 or 1 before they must.
SELECT normal_cdf(-37.5) > 0, normal_cdf(-40) = 0, normal_cdf(8) < 1, normal_cdf(9e999);
SELECT normal_cdf('1');
SELECT normal_cdf(x'00');
SELECT normal_quantile(0);
SELECT normal_quantile(1);
SELECT normal_quantile(-0.5);
SELECT normal_quantile('0.5');

-- stable_hash: integers hash as their decimal text, a BLOB as its bytes
-- (x'6134' is the text 'a4'); results are >= 0.
SELECT stable_hash(42) = stable_hash('42'), stable_hash(x'6134') = stable_hash('a4'),
       stable_hash(1.5) = stable_hash('1.5'), stable_hash('a') <> stable_hash('a ');
SELECT min(stable_hash('user:' || value)) >= 0 FROM generate_series(1, 1000);
-- Pinned values: FNV-1a 64 then fmix64, shifted right once (the same on
-- every machine; tests/scripts/analyses.sh recomputes them in Python).
SELECT stable_hash(''), stable_hash('a'), stable_hash('foobar'), stable_hash('exp:17');
SELECT stable_hash(NULL);
