"""Splits, cross-validation and hyperparameter searches."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modeldb.core.events import uuid7
from modeldb.producers.autolog.params import param_record
from modeldb.producers.sklearn.calls import Call, ModelInfo, emit_operator
from modeldb.producers.sklearn.data import DataInfo, n_rows_of


def train_test_split(tracker: Any, call: Callable, *arrays: Any, **options: Any) -> Any:
    """The hook of ``train_test_split``: the real split, given one extra array of positions to learn
    which rows went where.

    The split's randomness depends only on the number of rows, the options
    and the seed, so the user's arrays come back exactly as without tracking.
    ``call.result`` is set to what the user gets (without the positions), which the
    safe-patch primitive returns if the tracking below fails.
    """
    try:
        n = n_rows_of(arrays[0])
        positions = np.arange(n)
    except Exception:  # noqa: BLE001 - not data the tracker can follow: let the real function judge it
        return call(*arrays, **options)
    result = call(*arrays, positions, **options)
    train_pos, test_pos, result = result[-2], result[-1], result[:-2]
    call.result = result
    run = tracker.run("train_test_split")
    inputs, outputs = [], []
    for i, array in enumerate(arrays):
        parent = tracker.observe(array, run, source="train_test_split input")
        if parent is None:
            continue
        inputs.append(parent.dataframe_id)
        keys = parent.key_array()
        for child, pos, side in ((result[2 * i], train_pos, "train"), (result[2 * i + 1], test_pos, "test")):
            info = tracker.observer.observe(child, run, keys=keys[pos], names=parent.columns,
                                            provenance=parent.provenance, source=f"train_test_split {side}")
            if info is not None:
                outputs.append(info.dataframe_id)
    seed = options.get("random_state")
    run.emit_action("Split", {
        "method": "train_test_split", "input_dataframe_ids": inputs,
        "weights": [len(train_pos) / n, len(test_pos) / n] if n else [],
        "seed": int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None,
        "output_dataframe_ids": outputs,
    })
    return result


def cross_validation(name: str, tracker: Any, call: Callable, *args: Any, **kwargs: Any) -> Any:
    """The hook of ``cross_val_score`` / ``cross_validate``: one action with every fold's scores."""
    estimator = args[0] if args else kwargs.get("estimator")
    x = args[1] if len(args) > 1 else kwargs.get("X")
    stack = tracker.stack()
    stack.append(Call(estimator, name, composite=False, tracked=False))
    try:
        result = call(*args, **kwargs)
    finally:
        stack.pop()
    run = tracker.run(name)
    x_info = tracker.observe(x, run, source="X")
    folds = _folds(name, result)
    run.emit_action("CrossValidated", {
        "operator_class": type(estimator).__name__, "model_id": None,
        "input_dataframe_id": x_info.dataframe_id if x_info else None, "n_folds": len(folds), "folds": folds,
    })
    for score_name in sorted(folds[0]["scores"]) if folds else ():
        if score_name.endswith("_time"):
            continue
        values = [f["scores"][score_name] for f in folds]
        run.log_metric(f"cv_{score_name}_mean", float(np.mean(values)),
                       dataframe_id=x_info.dataframe_id if x_info else None)
    return result


def _folds(name: str, result: Any) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        keys = [k for k in result if k.startswith(("test_", "train_")) or k in ("fit_time", "score_time")]
        n = len(result[keys[0]]) if keys else 0
        return [{"index": i, "train_dataframe_id": None, "test_dataframe_id": None,
                 "scores": {k: float(result[k][i]) for k in keys}} for i in range(n)]
    scores = np.asarray(result, dtype=float).ravel()
    return [{"index": i, "train_dataframe_id": None, "test_dataframe_id": None, "scores": {"score": float(v)}}
            for i, v in enumerate(scores)]


def after_fit(tracker: Any, run: Any, est: Any, call: Any, x_info: DataInfo | None) -> None:
    """A fitted search: every candidate with params and scores, and the best model stored on its own."""
    results = getattr(est, "cv_results_", None)
    if not isinstance(results, dict) or "params" not in results:
        return
    refit = getattr(est, "refit", True)
    metric = refit if isinstance(refit, str) else "score"
    mean = results.get(f"mean_test_{metric}")
    std = results.get(f"std_test_{metric}")
    rank = results.get(f"rank_test_{metric}")
    split_keys = sorted((k for k in results if k.startswith("split") and k.endswith(f"_test_{metric}")),
                        key=lambda k: int(k[5:].split("_", 1)[0]))
    candidates = []
    for i, candidate in enumerate(results["params"]):
        candidates.append({
            "index": i, "params": [param_record(str(k), v) for k, v in sorted(candidate.items())],
            "mean_score": _float(mean, i), "std_score": _float(std, i),
            "rank": int(rank[i]) if rank is not None else None,
            "fold_scores": [v for v in (_float(results[k], i) for k in split_keys) if v is not None],
        })
    best_index = getattr(est, "best_index_", None)
    best_model_id = None
    best = getattr(est, "best_estimator_", None)
    if best is not None:
        best_model_id, refit_action = uuid7(), uuid7()
        tracker.models.put(best, ModelInfo(best_model_id, x_info))
        emit_operator(run, best, refit_action, "fit", best_model_id, with_params=True,  # the winner, refitted
                      inputs=[x_info.dataframe_id] if x_info else [], input_columns=x_info.columns if x_info else [],
                      parent_action_id=call.action_id,
                      duration_ms=float(getattr(est, "refit_time_", 0.0) or 0.0) * 1000)
        tracker.store_model(run, best, best_model_id, refit_action, x_info, call.model_id, part_of=call.model_id)
        call.parts.append((best, best_model_id))
    scoring = getattr(est, "scoring", None)
    run.emit_action("SearchCompleted", {
        "operator_class": type(est).__name__, "scoring": scoring if isinstance(scoring, str) else metric,
        "candidates": candidates, "best_index": int(best_index) if isinstance(best_index, (int, np.integer)) else None,
        "best_model_id": best_model_id,
    })
    best_score = getattr(est, "best_score_", None)
    if best_score is not None and best_model_id is not None:
        run.log_metric("best_score", float(best_score), model_id=best_model_id,
                       dataframe_id=x_info.dataframe_id if x_info else None)


def _float(values: Any, i: int) -> float | None:
    if values is None:
        return None
    try:
        value = float(values[i])
    except (TypeError, ValueError, IndexError):
        return None
    return None if np.isnan(value) else value
