"""CrossValidator and TrainValidationSplit: every param map with its fold scores, every fold, the best model.

pyspark fits and scores candidates in a thread pool, through
``pyspark.ml.tuning._parallelFitTasks`` (once per fold, given the fold's train and
validation frames). The tracker wraps that function: each task it returns runs with
tracking suppressed in its pool thread (its fits are candidates, not models of their own),
and the metric it returns is recorded as that candidate's score on that fold. The fold's
frames are recorded as frames derived from the search's input, from their schema alone:
counting them would be another pass over the data (the search caches and drops them fold
by fold), so their row count stays unknown (-1). A ``CrossValidated`` event then holds
every fold (``cv_folds``): its frames and each candidate's score, named ``<metric>[<candidate>]``.
"""
from __future__ import annotations

from typing import Any, Callable

from modeldb.producers.autolog import safety
from modeldb.producers.spark import params
from modeldb.producers.spark.calls import Fold


def parallel_fit_tasks(tracker: Any, call: Callable, *args: Any, **kwargs: Any) -> Any:
    """The hook of ``_parallelFitTasks``: its tasks, each wrapped to run untracked and keep its score."""
    tasks = call(*args, **kwargs)
    stack = tracker.stack()
    search = stack[-1] if stack and stack[-1].tracked and stack[-1].method == "fit" else None
    scores: dict[int, float] | None = None
    if search is not None and search.frame is not None:
        fold = Fold()
        scores = fold.scores
        search.folds.append(fold)
        train = args[1] if len(args) > 1 else kwargs.get("train")
        validation = args[3] if len(args) > 3 else kwargs.get("validation")
        fold.train, fold.validation = (_fold_frame(tracker, search, df, len(search.folds) - 1, side)
                                       for df, side in ((train, "train"), (validation, "validation")))

    def run_task(tracker: Any, task: Callable) -> Any:
        local = tracker._local
        before = getattr(local, "suppressed", False)
        local.suppressed = True
        try:
            result = task()
        finally:
            local.suppressed = before
        if scores is not None:
            try:
                scores[int(result[0])] = float(result[1])
            except (TypeError, ValueError, IndexError):  # not (candidate index, metric): no score to keep
                pass
        return result

    return [safety.safe_patch(task, run_task, current=lambda: tracker, site="a search's fold task") for task in tasks]


def _fold_frame(tracker: Any, search: Any, df: Any, index: int, side: str) -> str | None:
    """A fold's frame, derived from the search's input; observed from its schema, without a Spark job."""
    if df is None or not hasattr(df, "schema"):
        return None
    est = search.obj
    step = ("fold", type(est).__name__, [(r["key"], r["value"]) for r in params.own_params(est)
                                         if r["key"] in ("numFolds", "trainRatio", "seed", "foldCol")], index, side)
    info = tracker.derive(df, search.run, search.frame, step, None, f"{type(est).__name__} fold {index} {side}")
    return info.dataframe_id


def after_fit(tracker: Any, run: Any, est: Any, model: Any, call: Any, x_info: Any) -> None:
    """SearchCompleted with every candidate, its fold scores, and which model is the refitted best."""
    maps = est.getEstimatorParamMaps()
    inner = est.getEstimator()
    evaluator = est.getEvaluator()
    larger = evaluator.isLargerBetter()
    means = list(getattr(model, "avgMetrics", None) or getattr(model, "validationMetrics", None) or [])
    stds = list(getattr(model, "stdMetrics", None) or [])
    order = sorted(range(len(means)), key=lambda i: -means[i] if larger else means[i])
    rank = {i: r + 1 for r, i in enumerate(order)}
    candidates = []
    for i, param_map in enumerate(maps):
        candidates.append({
            "index": i, "params": params.param_map_records(inner, param_map),
            "mean_score": float(means[i]) if i < len(means) else None,
            "std_score": float(stds[i]) if i < len(stds) else None, "rank": rank.get(i),
            "fold_scores": [fold.scores[i] for fold in call.folds if i in fold.scores],
        })
    best_index = order[0] if order else None
    best = getattr(model, "bestModel", None)
    # The refit of the best model ran on this thread inside the search, and was tracked as its part.
    best_id = next((part.model_id for part in call.parts if part.model is best), None) if best is not None else None
    metric = evaluator.getMetricName() if hasattr(evaluator, "getMetricName") else type(evaluator).__name__
    run.emit_action("CrossValidated", {
        "operator_class": type(est).__name__, "model_id": call.model_id, "input_dataframe_id": x_info.dataframe_id,
        "n_folds": len(call.folds), "folds": [
            {"index": k, "train_dataframe_id": fold.train, "test_dataframe_id": fold.validation,
             "scores": {f"{metric}[{i}]": score for i, score in sorted(fold.scores.items())}}
            for k, fold in enumerate(call.folds)]})
    run.emit_action("SearchCompleted", {
        "operator_class": type(est).__name__, "scoring": str(metric), "candidates": candidates,
        "best_index": best_index, "best_model_id": best_id,
    })
    if best_id is not None and best_index is not None and best_index < len(means):
        run.log_metric("best_score", float(means[best_index]), model_id=best_id, dataframe_id=x_info.dataframe_id)
