"""The three scikit-learn workloads of the autolog overhead benchmark.

Plain scikit-learn: no modeldb import, so the MLflow comparison can run the
very same code in its own virtualenv. Each workload is ``prepare() -> data``
(not timed) and ``run(data)`` (timed: fit, predict, one metric).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


def digits_prepare() -> Any:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def digits_run(data: Any) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    X_train, X_test, y_train, y_test = data
    model = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    return accuracy_score(y_test, model.predict(X_test))


def grid_prepare() -> Any:
    return digits_prepare()


def grid_run(data: Any) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    grid = {"clf__C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0], "clf__fit_intercept": [True, False]}  # 12 candidates
    search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    return search.score(X_test, y_test)


def large_prepare(rows: int = 1_000_000, features: int = 20) -> Any:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(rows, features))
    w = rng.normal(size=features)
    y = (X @ w + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    return X, y


def large_run(data: Any) -> float:
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("sgd", SGDClassifier(max_iter=5, tol=None, random_state=0))])
    pipe.fit(X, y)
    return accuracy_score(y, pipe.predict(X))


WORKLOADS: dict[str, tuple[Callable[[], Any], Callable[[Any], float]]] = {
    "digits_logreg": (digits_prepare, digits_run),
    "grid_search_12": (grid_prepare, grid_run),
    "pipeline_1m_rows": (large_prepare, large_run),
}
