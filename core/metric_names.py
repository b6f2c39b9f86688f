"""Canonical metric names: one name per metric family, whatever the framework called it.

scikit-learn logs a metric under its function's name (``accuracy_score``, ``roc_auc_score``) and
Spark ML under its evaluator's ``metricName`` (``accuracy``, ``areaUnderROC``). The current-state
tables, the filters, the named queries and the dashboard group by the canonical name
(``accuracy``, ``roc_auc``), so ``metrics.accuracy`` finds both; the name the metric was logged
under is kept next to it (``metric_names`` in the current state, ``name`` in ``metrics``).

This table is the one source of the mapping: the stream processors canonicalize with it at
ingest, the DDL's backfill renders it into SQL, and the readers look names up with it. A name
not listed is its own canonical name. scikit-learn's averaged variants keep their average as a
suffix (``f1_score_macro`` is ``f1_macro``), so a macro F1 never lands next to a binary one.

A family groups the same measure, not always the same number: Spark's multiclass evaluator
averages F1, precision and recall over the labels weighted by support, where scikit-learn's
defaults score the positive class of a binary problem. The original name says which it was.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class Family(NamedTuple):
    label: str  # how people say it
    names: tuple[str, ...]  # the names frameworks log it under
    lower_is_better: bool = False


FAMILIES: dict[str, Family] = {
    "accuracy": Family("accuracy", ("accuracy_score", "accuracy")),
    "balanced_accuracy": Family("balanced accuracy", ("balanced_accuracy_score",)),
    "f1": Family("F1", ("f1_score", "f1")),
    "precision": Family("precision", ("precision_score", "weightedPrecision")),
    "recall": Family("recall", ("recall_score", "weightedRecall")),
    "roc_auc": Family("ROC AUC", ("roc_auc_score", "areaUnderROC")),
    "pr_auc": Family("PR AUC (average precision)", ("average_precision_score", "areaUnderPR")),
    "log_loss": Family("log loss", ("log_loss", "logLoss"), lower_is_better=True),
    "hamming_loss": Family("Hamming loss", ("hamming_loss", "hammingLoss"), lower_is_better=True),
    "rmse": Family("RMSE", ("root_mean_squared_error", "rmse"), lower_is_better=True),
    "mse": Family("MSE", ("mean_squared_error", "mse"), lower_is_better=True),
    "mae": Family("MAE", ("mean_absolute_error", "mae"), lower_is_better=True),
    "mape": Family("MAPE", ("mean_absolute_percentage_error",), lower_is_better=True),
    "r2": Family("R²", ("r2_score", "r2")),
    "explained_variance": Family("explained variance", ("explained_variance_score", "var")),
    "silhouette": Family("silhouette", ("silhouette_score", "silhouette")),
}
AVERAGES = ("micro", "macro", "weighted", "samples")  # scikit-learn's average= values, as the tracker suffixes them
AVERAGED = {"f1", "precision", "recall", "roc_auc", "pr_auc"}  # the families whose scikit-learn functions take average=
_LOWER_SUFFIXES = ("_error", "_loss", "loss", "Loss", "rmse", "mae", "mse")


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """Every logged name that is not canonical -> its canonical name (the averaged variants included)."""
    out: dict[str, str] = {}
    for canonical, family in FAMILIES.items():
        for name in family.names:
            if name != canonical:
                out[name] = canonical
            if canonical in AVERAGED and name.endswith("_score"):
                for average in AVERAGES:
                    out[f"{name}_{average}"] = f"{canonical}_{average}"
    return out


def canonical(name: str) -> str:
    """The canonical name of a metric logged as ``name`` (``name`` itself when no family lists it)."""
    return aliases().get(name, name)


def logged_names(name: str) -> tuple[str, ...]:
    """Every name a metric of ``name``'s family may have been logged under, the canonical one first."""
    wanted = canonical(name)
    return (wanted, *sorted(n for n, c in aliases().items() if c == wanted))


def lower_is_better(name: str) -> bool:
    """Errors and losses rank ascending: by the family when one lists the name, else by its suffix."""
    wanted = canonical(name)
    family = FAMILIES.get(wanted.rsplit("_", 1)[0] if wanted.endswith(AVERAGES) else wanted)
    return family.lower_is_better if family else wanted.endswith(_LOWER_SUFFIXES)
