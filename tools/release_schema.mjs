// release_schema.mjs - the layout of the public Deezer release (Zenodo
// record 5121674, from the authors of the KDD 2021 paper), as the importer
// reads it and the fixture generator writes it.
//
// Eight parquet files:
//   song_embeddings.parquet    song_index, features_svd (128 floats),
//                              features_mf (256 floats)
//   user_embeddings.parquet    user_index, svd_embeddings (128 floats),
//                              mf_embeddings (256 floats): warm users only
//   user_features_{train,validation,test}_{svd,mf}.parquet
//                              user_index, d1d30_songs (song_index list:
//                              the songs listened in the next 30 days),
//                              <feature>_embedding<i> for each of the 20
//                              features below and i < d, nb_<feature> for
//                              the 18 interaction features, age_value
// Nulls mean 0 (the reference code reads the files with fillna(0)).

// The 20 input features, in the order of our layout (sql/features.sql:
// age, country, then the 18 (action, entity) groups).
export const FEATURES = [
  'age', 'country',
  'favorite_songs', 'favorite_artists', 'favorite_albums', 'favorite_playlists',
  'onboarding_like_artists',
  'skipped_songs', 'skipped_artists', 'skipped_albums',
  'streamed_songs', 'streamed_artists', 'streamed_albums',
  'banned_songs', 'banned_artists', 'banned_albums',
  'search_songs', 'search_artists', 'search_albums', 'search_playlists',
];

// The interaction features, whose counts nb_<feature> follow the vectors.
export const COUNTED = FEATURES.slice(2);

export const SPACES = {
  svd: { dim: 128, songColumn: 'features_svd', userColumn: 'svd_embeddings' },
  mf: { dim: 256, songColumn: 'features_mf', userColumn: 'mf_embeddings' },
};

// Our splits and the release's names for them.
export const SPLITS = [
  { split: 'warm', file: 'train' },
  { split: 'validation', file: 'validation' },
  { split: 'test', file: 'test' },
];

export const SONG_FILE = 'song_embeddings.parquet';
export const USER_FILE = 'user_embeddings.parquet';

export function featureFile(splitFile, space) {
  return `user_features_${splitFile}_${space}.parquet`;
}

// The feature columns of one space in the order of our layout: 20 groups
// of d floats, the 18 counts, the age.  Their number is the length of a
// user_features vector: 2579 for d = 128, 5139 for d = 256.
export function featureColumns(space) {
  const d = SPACES[space].dim;
  const cols = [];
  for (const f of FEATURES) for (let i = 0; i < d; i++) cols.push(`${f}_embedding${i}`);
  for (const f of COUNTED) cols.push(`nb_${f}`);
  cols.push('age_value');
  return cols;
}
