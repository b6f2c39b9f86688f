"""Splits, cross-validation and hyperparameter searches."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modeldb.core.events import uuid7
from modeldb.producers.autolog.bounds import MAX_EVENT_BYTES, size
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
    """A fitted search: every candidate with params and every scorer's scores, and the best model stored on its own."""
    results = getattr(est, "cv_results_", None)
    if not isinstance(results, dict) or "params" not in results:
        return
    refit = getattr(est, "refit", True)
    scorers = scorer_names(results, getattr(est, "scoring", None))
    metric = refit if isinstance(refit, str) and refit in scorers else (scorers[0] if scorers else "score")
    candidates = []
    for i, candidate in enumerate(results["params"]):
        scores = candidate_scores(results, scorers, i)
        primary = next((s for s in scores if s["name"] == metric and s["split"] == "test"), None)
        candidates.append({
            "index": i, "params": [param_record(str(k), v) for k, v in sorted(candidate.items())],
            "mean_score": primary["mean"] if primary else None, "std_score": primary["std"] if primary else None,
            "rank": primary["rank"] if primary else None,
            "fold_scores": [v for v in primary["folds"] if not np.isnan(v)] if primary else [],
            "scores": scores, "iteration": _int(results.get("iter"), i),
            "n_resources": _int(results.get("n_resources"), i),
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
    _fit_in_event(candidates)
    scoring = getattr(est, "scoring", None)
    run.emit_action("SearchCompleted", {
        "operator_class": type(est).__name__, "scoring": scoring if isinstance(scoring, str) else metric,
        "candidates": candidates, "best_index": int(best_index) if isinstance(best_index, (int, np.integer)) else None,
        "best_model_id": best_model_id, "refit": refit_text(refit),
    })
    best_score = getattr(est, "best_score_", None)
    if best_score is not None and best_model_id is not None:
        run.log_metric("best_score", float(best_score), model_id=best_model_id,
                       dataframe_id=x_info.dataframe_id if x_info else None)


def _fit_in_event(candidates: list[dict[str, Any]]) -> None:
    """Keep a huge search's event under the size limit: drop every scorer's fold scores, then train scores.

    The ranking scorer's ``mean_score``, ``std_score``, ``rank`` and ``fold_scores``, and every
    scorer's test mean, std and rank, always stay.
    """
    if size(candidates) <= MAX_EVENT_BYTES:
        return
    for candidate in candidates:
        for score in candidate["scores"]:
            score["folds"] = []
    if size(candidates) > MAX_EVENT_BYTES:
        for candidate in candidates:
            candidate["scores"] = [s for s in candidate["scores"] if s["split"] == "test"]


def scorer_names(results: dict, scoring: Any) -> list[str]:
    """The scorers a search computed, in the user's order (``scoring={...}`` or a list), else sorted."""
    found = {k[len("mean_test_"):] for k in results if k.startswith("mean_test_")}
    given = list(scoring) if isinstance(scoring, (dict, list, tuple)) else []
    return [n for n in given if n in found] + sorted(found - set(given))


def candidate_scores(results: dict, scorers: list[str], i: int) -> list[dict[str, Any]]:
    """Candidate ``i``'s mean, std, rank and per-fold scores for each scorer, test then train (when computed)."""
    out = []
    for split in ("test", "train"):
        for name in scorers:
            if f"mean_{split}_{name}" not in results:
                continue
            prefix, suffix = "split", f"_{split}_{name}"
            fold_keys = sorted((k for k in results if k.startswith(prefix) and k.endswith(suffix)
                                and k[len(prefix):-len(suffix)].isdigit()), key=lambda k: int(k[len(prefix):-len(suffix)]))
            folds = [_float(results[k], i) for k in fold_keys]
            out.append({"name": name, "split": split, "mean": _float(results[f"mean_{split}_{name}"], i),
                        "std": _float(results.get(f"std_{split}_{name}"), i),
                        "rank": _int(results.get(f"rank_{split}_{name}"), i),
                        "folds": [float("nan") if v is None else v for v in folds]})
    return out


def refit_text(refit: Any) -> str:
    if isinstance(refit, (bool, str)):
        return str(refit)
    return f"callable:{getattr(refit, '__qualname__', type(refit).__name__)}" if callable(refit) else repr(refit)


def _int(values: Any, i: int) -> int | None:
    value = _float(values, i)
    return None if value is None else int(value)


def _float(values: Any, i: int) -> float | None:
    if values is None:
        return None
    try:
        value = float(values[i])
    except (TypeError, ValueError, IndexError):
        return None
    return None if np.isnan(value) else value
