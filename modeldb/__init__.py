"""ModelDB, event-streamed: track scikit-learn and Spark ML work as events, query it with SQL.

Quick start::

    import modeldb
    modeldb.init(project="churn")
    with modeldb.start_run(name="baseline") as run:
        run.log_params({"C": 1.0})
        run.log_metric("accuracy", 0.91)

The public functions below are imported lazily so that ``import modeldb``
stays cheap and reads no configuration.
"""
from __future__ import annotations

from typing import Any

from modeldb.core import __version__

_API = {
    "init": "modeldb.producers.tracking",
    "start_run": "modeldb.producers.tracking",
    "active_run": "modeldb.producers.tracking",
    "flush": "modeldb.producers.tracking",
    "Run": "modeldb.producers.tracking",
    "Settings": "modeldb.core.config",
    "ModelDBError": "modeldb.core.exceptions",
}
_SUBMODULES = ("sklearn", "spark", "query", "exceptions")  # `modeldb.exceptions.TrackingError` after `import modeldb`

__all__ = sorted(_API) + ["__version__", "load_model", "log_param", "log_params", "log_metric", "log_metrics", "set_tag"]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"modeldb.{name}")
    raise AttributeError(f"module 'modeldb' has no attribute {name!r}")


def _run() -> Any:
    from modeldb.producers import tracking

    run = tracking.active_run()
    if run is None:
        from modeldb.core.exceptions import TrackingError

        raise TrackingError("no active run: use `with modeldb.start_run():` first")
    return run


def log_param(key: str, value: Any) -> None:
    _run().log_param(key, value)


def log_params(params: dict) -> None:
    _run().log_params(params)


def log_metric(name: str, value: Any, step: int = 0) -> None:
    _run().log_metric(name, value, step)


def log_metrics(metrics: dict, step: int = 0) -> None:
    _run().log_metrics(metrics, step)


def set_tag(key: str, value: Any) -> None:
    _run().set_tag(key, value)


def load_model(model_id: str) -> Any:
    """The fitted model stored under ``model_id``: a scikit-learn model unpickled (load only models you
    trust), or a Spark ML model read back with Spark ML's own reader in the active SparkSession."""
    from modeldb.producers import artifacts
    from modeldb.producers.spark import models as spark_models  # no pyspark until a Spark model is read

    return artifacts.load_model(model_id, readers=[spark_models.READERS])
