"""Patch pyspark.ml where its entry points are defined, and put it back.

``Estimator.fit``, ``Transformer.transform`` and ``Evaluator.evaluate`` are
defined once, on the base classes, for every stage (including Pipeline,
PipelineModel, CrossValidator and every ``pyspark.ml.feature`` featurizer),
so patching them there covers stages imported or defined at any time.
``DataFrame.randomSplit`` is patched on the classic DataFrame, and
``pyspark.ml.tuning._parallelFitTasks`` to see a search's fold scores and frames.
``SparkContext.stop`` (which ``SparkSession.stop`` and leaving ``with SparkSession…``
call) first lets the tracker finish its pending Spark work (``stopping``).
Every wrapper is made by the safe-patch primitive (``autolog.safety``).
"""
from __future__ import annotations

from typing import Any, Callable

from modeldb.producers.autolog import safety
from modeldb.producers.spark import search


class Patches:
    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def _swap(self, owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, make(original))
        self._undo.append((owner, name, original))

    def apply(self, current: Callable[[], Any]) -> None:
        """Patch the entry points; each wrapper is the safe-patch primitive around a tracker hook."""
        from pyspark import SparkContext
        from pyspark.ml import base, evaluation, tuning
        from pyspark.sql.classic import dataframe

        def method(name: str) -> Callable[[Callable], Callable]:
            def make(original: Callable) -> Callable:
                def hook(tracker: Any, call: Callable, obj: Any, *args: Any, **kwargs: Any) -> Any:
                    return tracker.call(call, obj, name, args, kwargs)

                def untracked(tracker: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
                    return tracker.untracked(original, obj, name, args, kwargs)

                return safety.safe_patch(original, hook, current=current, untracked=untracked,
                                         site=lambda obj, *a, **k: f"{type(obj).__name__}.{name}")
            return make

        def split(original: Callable) -> Callable:
            return safety.safe_patch(original, lambda tracker, *a, **k: tracker.random_split(*a, **k),
                                     current=current, site="randomSplit")

        def tasks(original: Callable) -> Callable:
            return safety.safe_patch(original, search.parallel_fit_tasks, current=current,
                                     site="a search's fold tasks")

        def stop(original: Callable) -> Callable:
            def hook(tracker: Any, call: Callable, sc: Any, *args: Any, **kwargs: Any) -> Any:
                return tracker.stop_context(call, sc, *args, **kwargs)

            return safety.safe_patch(original, hook, current=current, site="SparkContext.stop")

        self._swap(base.Estimator, "fit", method("fit"))
        self._swap(base.Transformer, "transform", method("transform"))
        self._swap(evaluation.Evaluator, "evaluate", method("evaluate"))
        self._swap(dataframe.DataFrame, "randomSplit", split)
        self._swap(tuning, "_parallelFitTasks", tasks)
        self._swap(SparkContext, "stop", stop)

    def undo(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)
