"""check_pipeline.py - checks what sql/pipeline.sql, run with the reference
code's settings on a database imported from the release (features given,
no registration events), recommended and measured, recomputed here with
numpy from the database's own inputs (features, track vectors, predicted
vectors, Popularity list), without the extension.

    /usr/bin/python3 check_pipeline.py DB

- full_personalized: each cold user's list is the tracks ranked by the
  exact inner product with the predicted vector (float32 products are
  exact in double, math.fsum sums them exactly, one rounding to float32),
  best first, ties by smaller id, list_length long;
- registration_day_streams: the same ranking of the features' stream/track
  group (floats 10 d .. 11 d), or the Popularity list when the user's count
  of streamed tracks (float 20 d + 8) is 0 or that group is zero;
- user_activity: onboarding likes, streams, skips and all interactions as
  sums of the features' 18 counts (floats 20 d .. 20 d + 17).
Exits 0 when all hold, else prints the first differences and exits 1.
"""
import math
import sqlite3
import sys

import numpy as np

STREAM_TRACK = 10  # group of stream/track in the layout of sql/features.sql
COUNT_GROUPS = {"onboarding_likes": [6], "streams": [10, 11, 12], "skips": [7, 8, 9],
                "interactions": list(range(2, 20))}


def floats(blob):
    return np.frombuffer(blob, dtype="<f4")


def main():
    db = sqlite3.connect(sys.argv[1])
    errors = []

    def check(cond, msg):
        if not cond and len(errors) < 20:
            errors.append(msg)

    (length,) = db.execute("SELECT list_length FROM run_config").fetchone()
    rows = db.execute("SELECT track_id, embedding FROM tracks ORDER BY track_id").fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    x64 = np.stack([floats(r[1]) for r in rows]).astype(np.float64)
    d = x64.shape[1]
    popular = [t for (t,) in db.execute(
        "SELECT track_id FROM popular_tracks WHERE rank <= ? ORDER BY rank", (length,))]

    def ranking(query):
        prods = x64 * query.astype(np.float64)
        scores = np.array([math.fsum(r) for r in prods]).astype(np.float32)
        return [int(ids[i]) for i in np.lexsort((ids, -scores))[:length]]

    def recommended(method, user):
        return [t for (t,) in db.execute(
            "SELECT track_id FROM recommendations WHERE method = ? AND user_id = ? ORDER BY rank",
            (method, user))]

    cold = db.execute("SELECT u.user_id, c.embedding, f.features FROM users AS u "
                      "JOIN cold_embeddings AS c USING (user_id) "
                      "JOIN user_features AS f USING (user_id) ORDER BY u.user_id").fetchall()
    check(len(cold) > 0, "no cold user")
    fallback = 0
    for user, embedding, features in cold:
        check(recommended("full_personalized", user) == ranking(floats(embedding)),
              f"full_personalized of user {user} is not the inner-product ranking")
        f = floats(features)
        check(len(f) == 20 * d + 19, f"user {user} has {len(f)} features")
        group = f[STREAM_TRACK * d:(STREAM_TRACK + 1) * d]
        count = f[20 * d + STREAM_TRACK - 2]
        if count > 0 and np.any(group != 0):
            want = ranking(group)
        else:
            want = popular
            fallback += 1
        check(recommended("registration_day_streams", user) == want,
              f"registration_day_streams of user {user} (count {count}) is wrong")
    check(0 < fallback < len(cold),
          f"{fallback} of {len(cold)} users fell back to Popularity: the fixture should have both")

    test = db.execute("SELECT u.user_id, f.features FROM users AS u "
                      "JOIN user_features AS f USING (user_id) WHERE u.split = 'test'").fetchall()
    activity = {r[0]: r[1:] for r in db.execute(
        "SELECT user_id, onboarding_likes, streams, skips, interactions FROM user_activity")}
    check(len(activity) == len(test), f"user_activity has {len(activity)} of {len(test)} users")
    for user, features in test:
        c = floats(features)[20 * d:20 * d + 18]
        want = tuple(int(sum(c[g - 2] for g in groups)) for groups in COUNT_GROUPS.values())
        check(activity.get(user) == want,
              f"user_activity of user {user} is {activity.get(user)}, want {want}")

    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(f"pipeline on the release: {len(cold)} cold users checked, "
          f"{fallback} on the Popularity fallback of registration_day_streams")


if __name__ == "__main__":
    main()
