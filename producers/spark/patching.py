"""Patch pyspark.ml where its entry points are defined, and put it back.

``Estimator.fit``, ``Transformer.transform`` and ``Evaluator.evaluate`` are
defined once, on the base classes, for every stage (including Pipeline,
PipelineModel, CrossValidator and every ``pyspark.ml.feature`` featurizer),
so patching them there covers stages imported or defined at any time.
``DataFrame.randomSplit`` is patched on the classic DataFrame, and
``pyspark.ml.tuning._parallelFitTasks`` to see a search's fold scores.
"""
from __future__ import annotations

import functools
from typing import Any, Callable


class Patches:
    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def _swap(self, owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
        original = owner.__dict__[name]
        patched = functools.wraps(original)(make(original))
        patched.__modeldb_original__ = original
        setattr(owner, name, patched)
        self._undo.append((owner, name, original))

    def apply(self, current: Callable[[], Any]) -> None:
        from pyspark.ml import base, evaluation, tuning
        from pyspark.sql.classic import dataframe

        def method(name: str) -> Callable[[Callable], Callable]:
            def make(original: Callable) -> Callable:
                def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                    tracker = current()
                    if tracker is None:
                        return original(self, *args, **kwargs)
                    return tracker.call(self, name, original, args, kwargs)
                return wrapper
            return make

        def split(original: Callable) -> Callable:
            def randomSplit(self: Any, weights: Any, seed: Any = None, *args: Any, **kwargs: Any) -> Any:
                tracker = current()
                if tracker is None:
                    return original(self, weights, seed, *args, **kwargs)
                return tracker.random_split(self, original, weights, seed, args, kwargs)
            return randomSplit

        def tasks(original: Callable) -> Callable:
            def _parallelFitTasks(*args: Any, **kwargs: Any) -> Any:
                from modeldb.producers.spark import search

                tracker = current()
                if tracker is None:
                    return original(*args, **kwargs)
                return search.parallel_fit_tasks(tracker, original, args, kwargs)
            return _parallelFitTasks

        self._swap(base.Estimator, "fit", method("fit"))
        self._swap(base.Transformer, "transform", method("transform"))
        self._swap(evaluation.Evaluator, "evaluate", method("evaluate"))
        self._swap(dataframe.DataFrame, "randomSplit", split)
        self._swap(tuning, "_parallelFitTasks", tasks)

    def undo(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)
