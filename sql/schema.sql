-- schema.sql - the dataset tables every script reads (docs/ARCHITECTURE.md).
-- Idempotent: safe to run on a database that already holds them.
-- Vectors are BLOBs of little-endian float32 (sqlite-vec's float[N]).

-- Catalog: every track has a vector in the latent space (TT-SVD or UT-ALS).
CREATE TABLE IF NOT EXISTS tracks(
  track_id  INTEGER PRIMARY KEY,
  album_id  INTEGER,
  artist_id INTEGER,
  embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tracks_by_album  ON tracks(album_id);
CREATE INDEX IF NOT EXISTS tracks_by_artist ON tracks(artist_id);

CREATE TABLE IF NOT EXISTS playlist_tracks(
  playlist_id INTEGER,
  track_id    INTEGER
);
CREATE INDEX IF NOT EXISTS playlist_tracks_by_playlist ON playlist_tracks(playlist_id);

-- Users: warm ones carry their known vector; validation and test users are
-- the cold users the system must serve.
CREATE TABLE IF NOT EXISTS users(
  user_id   INTEGER PRIMARY KEY,
  split     TEXT NOT NULL CHECK (split IN ('warm','validation','test')),
  country   TEXT,
  age       INTEGER,
  embedding BLOB
);
CREATE INDEX IF NOT EXISTS users_by_split ON users(split);

-- Registration-day events: what the system knows of a new user.
CREATE TABLE IF NOT EXISTS registration_events(
  user_id   INTEGER NOT NULL,
  action    TEXT NOT NULL,  -- stream, skip, ban, search, favorite, onboarding_like
  entity    TEXT NOT NULL,  -- track, album, artist, playlist
  entity_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS registration_events_by_user ON registration_events(user_id);
CREATE INDEX IF NOT EXISTS registration_events_by_entity
  ON registration_events(action, entity, entity_id);

-- Ground truth: tracks listened to in days 1..30 after registration.
CREATE TABLE IF NOT EXISTS future_listens(
  user_id  INTEGER,
  track_id INTEGER
);
CREATE INDEX IF NOT EXISTS future_listens_by_user  ON future_listens(user_id);
CREATE INDEX IF NOT EXISTS future_listens_by_track ON future_listens(track_id);

-- Input feature vectors, built by sql/features.sql (which states their
-- layout) or imported ready-made.
CREATE TABLE IF NOT EXISTS user_features(
  user_id  INTEGER PRIMARY KEY,
  features BLOB NOT NULL
);

-- What the data is and what it lacks, as name/value pairs, written by
-- whoever loads it (tools/import_release.mjs: features 'given' when
-- user_features came ready-made, registration_events, countries,
-- track_metadata, listens 'absent' when the source has none).  Empty
-- means everything is there and features come from events; the pipeline
-- reads it to skip or adapt the steps that need what is absent.
CREATE TABLE IF NOT EXISTS dataset_info(
  name  TEXT PRIMARY KEY,
  value
);

-- Optional hyperparameter overrides read by the pipeline scripts.
CREATE TABLE IF NOT EXISTS settings(
  name  TEXT PRIMARY KEY,
  value
);
