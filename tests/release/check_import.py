"""check_import.py - checks a database written by tools/import_release.mjs
from a fixture of tools/release_fixture.mjs against values recomputed here,
from the fixture's formulas (documented at the top of release_fixture.mjs),
with no use of the parquet files or of the importer's code.

    /usr/bin/python3 check_import.py DB SPACE USERS SONGS SCHEMA_SQL

Exits 0 when every table holds exactly what it must, else prints the first
differences and exits 1.
"""
import json
import sqlite3
import sys

import numpy as np

FEATURES = ["age", "country", "favorite_songs", "favorite_artists", "favorite_albums",
            "favorite_playlists", "onboarding_like_artists", "skipped_songs",
            "skipped_artists", "skipped_albums", "streamed_songs", "streamed_artists",
            "streamed_albums", "banned_songs", "banned_artists", "banned_albums",
            "search_songs", "search_artists", "search_albums", "search_playlists"]
DIM = {"svd": 128, "mf": 256}
SALT = {"svd": (1, 3, 5), "mf": (2, 4, 6)}  # songs, warm users, features


def h(a, b, salt):
    return (a * 7919 + b * 104729 + salt * 1299709) % 1000003


def v(hv):
    return (hv - 500001) / 4099.0


def embedding(ident, d, salt):
    out = np.zeros(d, dtype=np.float64)
    for i in range(d):
        hv = h(ident, i, salt)
        out[i] = 0.0 if hv % 97 == 0 else v(hv)
    return out.astype("<f4")


def features(u, d, salt):
    vec = []
    for g in range(20):
        whole_null = (u + 5 * g) % 4 == 0
        for i in range(d):
            hv = h(u, 1000 * g + i, salt)
            vec.append(0.0 if whole_null or hv % 13 == 0 else v(hv))
    for g in range(2, 20):
        vec.append(0.0 if (u + g) % 11 == 0 else float((31 * u + 17 * g) % 9))
    vec.append(0.0 if u % 23 == 0 else float(16 + (13 * u) % 60))
    return np.array(vec, dtype=np.float64).astype("<f4")


def listens(u, songs):
    if u % 37 == 0:
        return []
    n = min(20 + u % 60, songs)
    out = [1000 + 3 * ((7 * u + 131 * t) % songs) for t in range(n)]
    if u % 10 == 3:
        out.append(out[0])
    return out


def main():
    db_path, space, users, songs, schema_path = sys.argv[1:6]
    users, songs = int(users), int(songs)
    d = DIM[space]
    s_song, s_user, s_feat = SALT[space]
    db = sqlite3.connect(db_path)
    errors = []

    def check(cond, msg):
        if not cond and len(errors) < 20:
            errors.append(msg)

    check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check failed")

    # tracks
    rows = db.execute("SELECT track_id, album_id, artist_id, embedding FROM tracks ORDER BY track_id").fetchall()
    want_ids = sorted(1000 + 3 * j for j in range(songs))
    check([r[0] for r in rows] == want_ids, "track ids differ")
    for tid, album, artist, blob in rows:
        check(album is None and artist is None, f"track {tid}: album/artist must be NULL")
        check(blob == embedding(tid, d, s_song).tobytes(), f"track {tid}: embedding differs")

    # users and their features
    split_of = {}
    for j in range(users):
        split_of[5 + 7 * j] = "warm" if j % 10 < 7 else "validation" if j % 10 < 9 else "test"
    rows = db.execute("SELECT user_id, split, country, age, embedding FROM users ORDER BY user_id").fetchall()
    check([r[0] for r in rows] == sorted(split_of), "user ids differ")
    for uid, split, country, age, emb in rows:
        check(split == split_of.get(uid), f"user {uid}: split {split}, want {split_of.get(uid)}")
        check(country is None, f"user {uid}: country must be NULL")
        want_age = None if uid % 23 == 0 else 16 + (13 * uid) % 60
        check(age == want_age and (age is None or isinstance(age, int)),
              f"user {uid}: age {age!r}, want {want_age!r}")
        if split == "warm":
            check(emb == embedding(uid, d, s_user).tobytes(), f"warm user {uid}: embedding differs")
        else:
            check(emb is None, f"{split} user {uid}: embedding must be NULL")
    feats = dict(db.execute("SELECT user_id, features FROM user_features").fetchall())
    check(sorted(feats) == sorted(split_of), "user_features ids differ from users")
    width = 20 * d + 19
    for uid in split_of:
        got = feats.get(uid)
        want = features(uid, d, s_feat)
        check(got is not None and len(got) == 4 * width, f"user {uid}: features of {len(got or b'') // 4} floats, want {width}")
        if got is not None and got != want.tobytes():
            g = np.frombuffer(got, dtype="<f4")
            bad = np.nonzero(g != want)[0] if len(g) == len(want) else [0]
            check(False, f"user {uid}: features differ at {len(bad)} positions, first {bad[0]}")

    # future_listens: distinct (user, song) pairs; repeats counted
    got = db.execute("SELECT user_id, track_id FROM future_listens").fetchall()
    want = set()
    repeats = 0
    for uid in split_of:
        lst = listens(uid, songs)
        repeats += len(lst) - len(set(lst))
        want.update((uid, s) for s in lst)
    check(len(got) == len(set(got)), "future_listens holds duplicate pairs")
    check(set(got) == want, f"future_listens: {len(set(got) - want)} extra, {len(want - set(got))} missing pairs")

    # what the release lacks stays empty
    for table in ("registration_events", "playlist_tracks", "settings"):
        check(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, f"{table} must be empty")

    # the indexes of schema.sql are all there
    ref = sqlite3.connect(":memory:")
    ref.executescript(open(schema_path).read())
    q = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
    check(db.execute(q).fetchall() == ref.execute(q).fetchall(), "indexes differ from sql/schema.sql's")

    # dataset_info
    info = dict(db.execute("SELECT name, value FROM dataset_info").fetchall())
    n_warm = sum(1 for s in split_of.values() if s == "warm")
    expect = {"space": space, "dim": d, "features": "given", "registration_events": "absent",
              "countries": "absent", "track_metadata": "absent", "listens": "absent",
              "tracks": songs, "users_warm": n_warm,
              "users_validation": sum(1 for s in split_of.values() if s == "validation"),
              "users_test": sum(1 for s in split_of.values() if s == "test"),
              "future_listens": len(want), "future_listens_repeats": repeats}
    for k, val in expect.items():
        check(info.get(k) == val, f"dataset_info {k} = {info.get(k)!r}, want {val!r}")
    files = json.loads(info.get("files", "{}"))
    check(len(files) == 5, f"dataset_info files lists {len(files)} files, want 5")
    codecs = set(c for f in files.values() for c in f.get("codecs", []))
    check({"SNAPPY", "ZSTD", "GZIP", "UNCOMPRESSED"} <= codecs,
          f"the fixture should exercise snappy, zstd, gzip and uncompressed; saw {sorted(codecs)}")

    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(f"{space}: {songs} tracks, {len(split_of)} users, {len(want)} future listens: all values as expected")


main()
