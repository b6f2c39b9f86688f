"""Metrics and per-row predictions, linked to the model and the data they were computed on.

A ``predict`` output is remembered (by identity, while it is alive). When a
``sklearn.metrics`` function is later called with it, the metric is logged
against that model and evaluation dataframe, and the first such call also
logs the prediction rows: key, prediction, true label and the values of the
slice columns (``slice_columns``, or by default the evaluation data's
categorical columns with at most 50 values, then its numeric columns; at most
20 columns), up to ``max_prediction_rows`` rows per predict, in events of about
256 KiB. Numbers are kept as their text (``1035.0``), missing values as ''.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable

import numpy as np

from modeldb.producers.sklearn.calls import Prediction
from modeldb.producers.sklearn.data import DataInfo, kind_of, n_rows_of

EVENT_BYTES = 256 * 1024  # aim for prediction events well under Kafka's default 1 MB message limit
MAX_SLICE_COLUMNS = 20
LABEL_PARAMS = ("y_true", "labels_true")
PREDICTION_PARAMS = ("y_pred", "y_score", "y_proba", "y_prob", "probas_pred", "labels_pred", "labels", "pred_decision")


def remember_prediction(tracker: Any, model_id: str, x_info: DataInfo | None, method: str, result: Any,
                        args: tuple, kwargs: dict) -> None:
    x = args[0] if args else kwargs.get("X")
    limit = tracker.options.max_prediction_rows
    head = np.array(np.asarray(result)[:limit]) if method in ("predict", "fit_predict") else None
    slices = _slice_columns(tracker, x, x_info) if head is not None else {}
    tracker.predictions.put(result, Prediction(model_id, x_info, method, n_rows_of(result), head, slices))


def remember_labels(tracker: Any, model_id: str, x_info: DataInfo | None, est: Any) -> None:
    """A fitted clusterer's ``labels_`` score like its predictions: ``silhouette_score(X, km.labels_)``."""
    labels = getattr(est, "labels_", None)
    if isinstance(labels, np.ndarray) and labels.ndim == 1 and tracker.predictions.get(labels) is None:
        tracker.predictions.put(labels, Prediction(model_id, x_info, "labels_", labels.shape[0], None, {}))


def _slice_columns(tracker: Any, x: Any, x_info: DataInfo | None) -> dict[str, Any]:
    """name -> values (first ``max_prediction_rows``) of the columns that define slices."""
    if kind_of(x) != "frame":
        return {}
    wanted = tracker.options.slice_columns
    by_name = {str(c): c for c in x.columns}
    if wanted is None:  # categorical columns first, then numeric ones (age > 60), in frame order
        categorical = list(x_info.categorical) if x_info else []
        wanted = categorical + [str(c) for c, t in zip(x.columns, x.dtypes)
                                if getattr(t, "kind", "") in "iuf" and str(c) not in categorical]
    names = [n for n in wanted if n in by_name]
    limit = tracker.options.max_prediction_rows
    return {n: np.array(x[by_name[n]].to_numpy()[:limit]) for n in names[:MAX_SLICE_COLUMNS]}


def find_prediction(tracker: Any, value: Any) -> Any:
    """The remembered prediction ``value`` is, or is a view of (``proba[:, 1]``)."""
    for _ in range(4):
        if value is None:
            return None
        found = tracker.predictions.get(value)
        if found is not None:
            return found
        value = getattr(value, "base", None)
    return None


def log_score(tracker: Any, run: Any, model_id: str, x_info: DataInfo | None, result: Any) -> None:
    if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
        log_metric(tracker, run, "score", float(result), model_id, x_info.dataframe_id if x_info else None)


def log_metric(tracker: Any, run: Any, name: str, value: float, model_id: str | None,
               dataframe_id: str | None) -> None:
    """A metric of ``model_id``; marked ``model_changed`` when that model changed after its snapshot
    and could not be snapshotted again (``snapshots``)."""
    if model_id is None or model_id not in tracker.changed_models:
        run.log_metric(name, value, model_id=model_id, dataframe_id=dataframe_id)
        return
    run.emit_action("MetricLogged", {"name": name, "value": value, "step": 0, "model_id": model_id,
                                     "dataframe_id": dataframe_id, "slice": "", "model_changed": True})


def metric_name(fn: Callable, kwargs: dict) -> str:
    name = fn.__name__
    average = kwargs.get("average")
    return f"{name}_{average}" if isinstance(average, str) and average != "binary" else name


def on_metric(tracker: Any, fn: Callable, signature: inspect.Signature, args: tuple, kwargs: dict, value: Any) -> None:
    if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
        return  # per-class arrays, reports: not a single metric
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        bound = {}
    prediction = None
    for name in PREDICTION_PARAMS:
        if name in bound:
            prediction = find_prediction(tracker, bound[name])
            if prediction is not None:
                break
    y_true = next((bound[n] for n in LABEL_PARAMS if n in bound), None)
    run = tracker.run()
    model_id = prediction.model_id if prediction else None
    dataframe_id = prediction.data.dataframe_id if prediction and prediction.data else None
    log_metric(tracker, run, metric_name(fn, kwargs), float(value), model_id, dataframe_id)
    if prediction is not None and not prediction.linked and y_true is not None \
            and prediction.method in ("predict", "fit_predict"):
        prediction.linked = True
        log_predictions(tracker, run, prediction, y_true)


def log_predictions(tracker: Any, run: Any, prediction: Any, y_true: Any) -> None:
    """Copy the labels' first rows now (cheap, and safe if the user changes them); build the events off-thread."""
    if prediction.data is None or prediction.head is None or kind_of(y_true) is None:
        return
    if n_rows_of(y_true) != prediction.n_rows:
        return
    limit = len(prediction.head)
    keys = np.array(prediction.data.key_array()[:limit])
    labels = np.array(np.asarray(y_true)[:limit])
    model_id, dataframe_id = prediction.model_id, prediction.data.dataframe_id
    predicted, slices = prediction.head, prediction.slices
    tracker.submit(lambda: _emit_rows(run, model_id, dataframe_id, keys, predicted, labels, slices),
                   "logging prediction rows")


def _emit_rows(run: Any, model_id: str, dataframe_id: str, keys: np.ndarray, predicted: np.ndarray,
               labels: np.ndarray, slices: dict[str, np.ndarray]) -> None:
    key_text = [str(k) for k in _plain(keys)]
    pred_text, pred_num = _texts(predicted), _numbers(predicted)
    label_text, label_num = _texts(labels), _numbers(labels)
    slice_text = {name: _slice_texts(values) for name, values in slices.items()}
    limit = len(key_text)
    per_event = max(50, EVENT_BYTES // (64 + 32 * len(slice_text)))  # rough bytes per encoded row
    for start in range(0, limit, per_event):
        rows = []
        for i in range(start, min(limit, start + per_event)):
            rows.append({"key": key_text[i], "prediction": pred_text[i], "prediction_num": pred_num[i],
                         "label": label_text[i], "label_num": label_num[i],
                         "slice_values": {name: values[i] for name, values in slice_text.items()}})
        run.emit_action("PredictionsLogged", {"model_id": model_id, "dataframe_id": dataframe_id, "rows": rows})


def _slice_texts(values: np.ndarray) -> list[str]:
    """Slice values as text; a number as a number (``1035.0``), a missing value (NaN, None) as ''."""
    out = []
    for v in _plain(values):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append("")
        else:
            out.append(str(v))
    return out


def _plain(values: Any) -> list[Any]:
    return np.asarray(values).tolist() if not isinstance(values, list) else values


def _texts(values: np.ndarray) -> list[str]:
    return [str(v) for v in _plain(values.reshape(values.shape[0], -1)[:, 0] if values.ndim > 1 else values)]


def _numbers(values: np.ndarray) -> list[float | None]:
    flat = values.reshape(values.shape[0], -1)[:, 0] if values.ndim > 1 else values
    if flat.dtype.kind not in "biuf":
        return [None] * flat.shape[0]
    out = flat.astype(np.float64).tolist()
    return [v if math.isfinite(v) else None for v in out]
