"""Track unchanged scikit-learn code: ``modeldb.sklearn.autolog()``.

Every fit, fit_transform, transform, predict, predict_proba,
decision_function and score; each stage of a Pipeline, ColumnTransformer or
FeatureUnion; train_test_split; cross_val_score and cross_validate; grid,
randomized and halving searches; and every ``sklearn.metrics`` scoring call
becomes an action event of the current run. A run starts by itself when none
is active and ends when the process exits (or at ``disable()``).

    import modeldb.sklearn
    modeldb.sklearn.autolog(experiment="baseline")      # or: with modeldb.sklearn.autolog(): ...
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

from modeldb.core.exceptions import TrackingError
from modeldb.producers.autolog import hygiene, lifecycle as autolog_base
from modeldb.producers.sklearn import tracker as T
from modeldb.producers.sklearn.patching import Patches
from modeldb.producers.sklearn.calls import Options

__all__ = ["autolog", "disable", "Autolog"]

class Autolog(autolog_base.Autolog):
    """Returned by ``autolog()``; as a context manager it disables tracking on exit."""

    @property
    def run(self) -> Any:
        tracker = T.current()
        return tracker.run() if tracker is not None else None


def autolog(*, experiment: str | None = None, log_models: bool = True,
            slice_columns: Iterable[str] | None = None, max_prediction_rows: int = 100_000,
            run_name: str | None = None) -> Autolog:
    """Start tracking scikit-learn. Calling it again replaces the options.

    experiment: group the automatic run under this experiment (default ``MODELDB_EXPERIMENT``).
    log_models: store every fitted model in the artifact store (``MODELDB_ARTIFACTS``).
    slice_columns: evaluation-data columns whose values are kept with each prediction row;
        by default the categorical columns with at most 50 values.
    max_prediction_rows: prediction rows kept per predict call once a metric links the labels.
    run_name: name of the automatic run (default ``<script>-<first estimator>``).
    """
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
        raise TrackingError(f"experiment must be a non-empty string, got {experiment!r}")
    if isinstance(slice_columns, str):
        raise TrackingError("slice_columns takes a list of column names, not one string")
    if not isinstance(max_prediction_rows, int) or isinstance(max_prediction_rows, bool) or max_prediction_rows < 0:
        raise TrackingError(f"max_prediction_rows must be a non-negative integer, got {max_prediction_rows!r}")
    options = Options(experiment=experiment, log_models=bool(log_models),
                      slice_columns=tuple(str(c) for c in slice_columns) if slice_columns is not None else None,
                      max_prediction_rows=max_prediction_rows, run_name=run_name)
    caller = sys._getframe(1).f_globals

    def patch(patches: Patches | None) -> Patches:
        with hygiene.preserved():  # importing scikit-learn's submodules consumes the user's `random`
            if patches is None:
                patches = Patches()
                patches.patch_loaded_estimators()
                patches.hook_new_classes()
                patches.patch_functions(caller)
            else:
                patches.rebind(caller)
        return patches

    T.SWITCH.turn_on(options, T.Tracker, patch)
    return Autolog(options, T.SWITCH)


def disable(status: str = "FINISHED") -> None:
    """Stop tracking, put scikit-learn back as it was, and end the automatic run."""
    T.SWITCH.turn_off(status)
