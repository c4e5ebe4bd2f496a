#!/usr/bin/env python3
"""online.py - serve ONE new user online from Python's sqlite3 module: the
same flow, and the same output, as examples/online.c.  Read-only.

    python3 examples/online.py [-k N] EXTENSION DATABASE [COUNTRY AGE [ACTION:ENTITY:ID ...]]
    python3 examples/online.py ./semiperso music.db FR 27 stream:track:123 onboarding_like:artist:45

EXTENSION is the path of semiperso.so (the suffix may be left out); DATABASE
a database on which sql/pipeline.sql has run, or a serving bundle written by
export_bundle(); it is opened read-only.  COUNTRY and AGE may be "-" when
unknown; each event is action:entity:id (the (action, entity) pairs of
sql/features.sql).  With no COUNTRY, a built-in example user is served.
-k N: length of both lists (default 10).

It needs a Python whose sqlite3 module can load extensions: Debian's
/usr/bin/python3 can; some self-built ones (pyenv's by default) cannot.

How the user is served (see online.c for the reasoning):
  1. the events become a JSON array; a pair that is no feature group is
     refused, an entity without a vector only warned about;
  2. user_input_features(): the input vector, by the function that built
     the training features;
  3. recommend_cold_user(): the segment's top tracks (semi-personalized),
     then the tracks nearest the predicted vector (method "full").
"""
import argparse
import json
import sqlite3
import sys

SEGMENTATION = "warm_users"
EXAMPLE_USER = ["FR", "27", "onboarding_like:artist:1", "onboarding_like:artist:2",
                "stream:track:1", "stream:track:2", "stream:album:1", "skip:track:3",
                "search:artist:1"]
NEEDED = ["feature_groups", "feature_entity_vectors", "segment_top_tracks", "semiperso_models",
          "semiperso_segmentations", "semiperso_segments"]


class UsageError(Exception):
    """Bad arguments: exit status 2."""


class ServeError(Exception):
    """The database cannot serve this user: exit status 1."""


def parse_event(arg):
    """'stream:track:123' -> ('stream', 'track', 123)."""
    parts = arg.split(":")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].isdigit():
        raise UsageError(f'bad event "{arg}": expected ACTION:ENTITY:ID, e.g. stream:track:123')
    return parts[0], parts[1], int(parts[2])


def connect(extension, path):
    # mode=ro: the served file must exist and is never written.
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise ServeError(f"cannot open {path}: {e}") from e
    if not hasattr(conn, "enable_load_extension"):
        conn.close()
        raise ServeError("this Python's sqlite3 module cannot load extensions; "
                         "use one that can, e.g. Debian's /usr/bin/python3")
    try:
        conn.enable_load_extension(True)
        conn.load_extension(extension)
        conn.enable_load_extension(False)
    except sqlite3.Error as e:
        conn.close()
        raise ServeError(f"cannot load {extension}: {e}") from e
    for name in NEEDED:
        if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = ? AND type IN ('table', 'view')",
                        (name,)).fetchone() is None:
            raise ServeError(
                f"the database has no {name}: build it first, from the project directory:\n"
                "  sqlite3 DATABASE '.load ./semiperso' '.read sql/pipeline.sql'")
    return conn


def events_json(conn, events):
    """Step 1: the events as a JSON array, each checked to be a feature."""
    for arg, (action, entity, entity_id) in events:
        row = conn.execute(
            """SELECT EXISTS (SELECT 1 FROM feature_entity_vectors AS v
                              WHERE v.entity = ?2 AND v.entity_id = ?3)
                 FROM feature_groups WHERE action = ?1 AND entity = ?2""",
            (action, entity, entity_id)).fetchone()
        if row is None:  # the model would silently ignore it
            raise ServeError(f'event "{arg}": ({action}, {entity}) is not one of the '
                             "feature groups (see the table feature_groups)")
        if not row[0]:
            print(f"online: warning: {entity} {entity_id} is unknown: "
                  "the event counts but adds no vector", file=sys.stderr)
    return json.dumps([list(ev) for _, ev in events])


def recommend(conn, country, age, events, k):
    """Steps 2 and 3: the features' width, then both lists."""
    (n_features,) = conn.execute("SELECT length(features) / 4 FROM user_input_features(?, ?, ?)",
                                 (country, age, events)).fetchone()
    n = len(json.loads(events))
    print(f"New user: country {country or 'unknown'}, age {'unknown' if age is None else age}, "
          f"{n} registration-day event{'' if n == 1 else 's'}, {n_features} input features")
    query = """SELECT rank, track_id, score, segment_id
                 FROM recommend_cold_user(?, ?, ?, json_object('method', ?, 'k', ?))"""
    semi = conn.execute(query, (country, age, events, "semi", k)).fetchall()
    segment = semi[0][3]
    size, n_segments = conn.execute(
        """SELECT size, (SELECT k FROM semiperso_segmentations WHERE name = ?1)
             FROM semiperso_segments WHERE segmentation = ?1 AND segment_id = ?2""",
        (SEGMENTATION, segment)).fetchone()
    print(f"Segment {segment} of '{SEGMENTATION}' ({n_segments} segments), {size} warm users")
    print(f"\nSemi-personalized top {k}: the segment's most listened tracks")
    for rank, track_id, listeners, _ in semi:
        print(f"  semi {rank:3d}  track {track_id:6d}  listeners {listeners}")
    if len(semi) < k:
        print(f"online: warning: segment_top_tracks holds only {len(semi)} tracks "
              "per segment (the pipeline's top_k setting)", file=sys.stderr)
    print(f"\nFully personalized top {k}: the tracks nearest the user's vector")
    for rank, track_id, score, _ in conn.execute(query, (country, age, events, "full", k)):
        print(f"  full {rank:3d}  track {track_id:6d}  cosine {score:.6f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", type=int, default=10, help="length of both lists")
    parser.add_argument("extension")
    parser.add_argument("database")
    parser.add_argument("user", nargs="*", metavar="COUNTRY AGE [ACTION:ENTITY:ID ...]")
    args = parser.parse_args()
    user = args.user or EXAMPLE_USER
    if len(user) < 2 or not 1 <= args.k <= 10000:
        parser.print_usage(sys.stderr)
        return 2
    try:
        country = None if user[0] == "-" else user[0]
        age = None
        if user[1] != "-":
            if not user[1].isdigit() or int(user[1]) > 150:
                raise UsageError(f'bad age "{user[1]}": expected 0..150 or -')
            age = int(user[1])
        events = [(arg, parse_event(arg)) for arg in user[2:]]
        conn = connect(args.extension, args.database)
        try:
            recommend(conn, country, age, events_json(conn, events), args.k)
        finally:
            conn.close()
    except UsageError as e:
        print(f"online: {e}", file=sys.stderr)
        return 2
    except (sqlite3.Error, ServeError) as e:
        print(f"online: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
