-- search_candidates with every scorer of a search: for scoring={...}, any refit (a scorer's name,
-- a callable, False), each scorer's mean, std, rank and fold scores on the test folds, and on the
-- train folds when return_train_score=True; successive halving's iteration and resources.
-- Same sorting key, same deduplication. Rebuilt through a copy (the old rows keep their one,
-- ranking, scorer as the only entry of the score arrays), dropped and created again rather than
-- renamed, so that in cluster mode the Distributed table gets the new columns too.
-- @transient search_candidates_next
-- @table search_candidates: every candidate of a hyperparameter search with its params, every scorer's scores (test and train), rank and successive-halving iteration; is_best marks the winner; mean_score, std_score, rank and fold_scores are by the search's ranking scorer (scoring)
-- @column search_candidates.refit: how the winner was chosen: a scorer's name, True, False or callable:<name> ('' before schema v3)
-- @column search_candidates.iteration: successive halving: the iteration the candidate ran in (-1 for other searches)
-- @column search_candidates.n_resources: successive halving: the resources (samples) the candidate got (-1 for other searches)
-- @column search_candidates.score_names: each scorer's name (a key of scoring={...}, or score), parallel with the score_* arrays
-- @column search_candidates.score_splits: test, or train (return_train_score=True), for each entry
-- @column search_candidates.score_means: the scorer's mean over the folds (NaN when not computed)
-- @column search_candidates.score_stds: its standard deviation over the folds
-- @column search_candidates.score_ranks: the candidate's rank by that scorer's mean test score (-1 for train entries)
-- @column search_candidates.score_folds: the scorer's value on each fold, NaN kept

CREATE TABLE IF NOT EXISTS {db}.search_candidates_next (
    project String,
    run_id String,
    action_id String,
    operator_class String,
    scoring String,
    candidate Int32,
    param_keys Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    mean_score Float64,
    std_score Float64,
    rank Int32,
    fold_scores Array(Float64),
    is_best UInt8,
    best_model_id String,
    ts Int64,
    ver UInt64,
    refit String,
    iteration Int32,
    n_resources Int64,
    score_names Array(String),
    score_splits Array(String),
    score_means Array(Float64),
    score_stds Array(Float64),
    score_ranks Array(Int32),
    score_folds Array(Array(Float64))
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, action_id, candidate);

INSERT INTO {db}.search_candidates_next SELECT project, run_id, action_id, operator_class, scoring, candidate,
    param_keys, param_values, param_nums, mean_score, std_score, rank, fold_scores, is_best, best_model_id, ts, ver,
    '', -1, -1, [scoring], ['test'], [mean_score], [std_score], [rank], [fold_scores]
FROM {db}.search_candidates;

DROP TABLE IF EXISTS {db}.search_candidates;

CREATE TABLE IF NOT EXISTS {db}.search_candidates (
    project String,
    run_id String,
    action_id String,
    operator_class String,
    scoring String,
    candidate Int32,
    param_keys Array(String),
    param_values Array(String),
    param_nums Array(Float64),
    mean_score Float64,
    std_score Float64,
    rank Int32,
    fold_scores Array(Float64),
    is_best UInt8,
    best_model_id String,
    ts Int64,
    ver UInt64,
    refit String,
    iteration Int32,
    n_resources Int64,
    score_names Array(String),
    score_splits Array(String),
    score_means Array(Float64),
    score_stds Array(Float64),
    score_ranks Array(Int32),
    score_folds Array(Array(Float64))
) ENGINE = ReplacingMergeTree(ver)
ORDER BY (project, run_id, action_id, candidate);

INSERT INTO {db}.search_candidates SELECT * FROM {db}.search_candidates_next;

DROP TABLE IF EXISTS {db}.search_candidates_next;
