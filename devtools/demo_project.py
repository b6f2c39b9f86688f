"""The demo's data-science project: predicting customer churn, tracked by autolog.

Plain scikit-learn code: ``modeldb.sklearn.autolog()`` is the only ModelDB
line the modelling needs. Runs are opened explicitly only to give them names
and to branch one off another. The data (``demo_data.customers``) is synthetic
and seeded; its ``monthly_charges`` feature is the one the story later finds
was miscomputed.

The Spark ML part (``demo_spark``) gets the ``run`` opener as an argument, so
it never imports this module back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from modeldb.devtools.demo_data import BAD_COLUMN, NUMERIC, PROJECT, customers

__all__ = ["BAD_COLUMN", "PROJECT", "customers", "train"]


@dataclass(frozen=True)
class _Split:
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any

    @property
    def columns(self) -> list[str]:
        return list(self.X_train.columns)

    def evaluate(self, model: Any, X_eval: Any = None) -> None:
        """The metrics every run logs, each tracked by autolog as the user calls it."""
        from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

        X_eval = self.X_test if X_eval is None else X_eval
        predicted = model.predict(X_eval)
        accuracy_score(self.y_test, predicted)
        f1_score(self.y_test, predicted)
        roc_auc_score(self.y_test, model.predict_proba(X_eval)[:, 1])


def _prep(columns: list[str], dense: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in NUMERIC if c in columns]
    return ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense), ["country", "plan", "contract"]),
    ])


def _split() -> _Split:
    from sklearn.model_selection import train_test_split

    X, y = customers()
    return _Split(*train_test_split(X, y, test_size=0.25, random_state=7, stratify=y))


def _linear(run: Callable[..., Any], data: _Split, extra: int) -> Any:
    """The cross-validated baseline and up to five more regularisation strengths; returns the baseline run."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import Pipeline

    with run("logreg-baseline", "linear") as baseline:
        model = Pipeline([("prep", _prep(data.columns)), ("clf", LogisticRegression(max_iter=1000))])
        cross_validate(model, data.X_train, data.y_train, cv=5, scoring=["accuracy", "f1"])
        model.fit(data.X_train, data.y_train)
        data.evaluate(model)
    for C in (0.01, 0.1, 10.0, 0.03, 3.0)[:max(0, extra)]:
        with run(f"logreg-C{C:g}", "linear"):
            model = Pipeline([("prep", _prep(data.columns)), ("clf", LogisticRegression(C=C, max_iter=1000))])
            model.fit(data.X_train, data.y_train)
            data.evaluate(model)
    return baseline


def _trees(run: Callable[..., Any], data: _Split) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    with run("forest-grid", "trees"):
        forest = Pipeline([("prep", _prep(data.columns)), ("clf", RandomForestClassifier(random_state=0, n_jobs=1))])
        search = GridSearchCV(forest, {"clf__n_estimators": [60, 120], "clf__max_depth": [6, 12]}, cv=3,
                              scoring="accuracy")
        search.fit(data.X_train, data.y_train)
        data.evaluate(search)
    with run("boosting", "trees"):
        model = Pipeline([("prep", _prep(data.columns, dense=True)),
                          ("clf", HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, early_stopping=True,
                                                                random_state=0))])
        model.fit(data.X_train, data.y_train)
        data.evaluate(model)


def _without_bad_column(run: Callable[..., Any], data: _Split, baseline: Any) -> None:
    """The baseline again without the miscomputed feature: a run branched off the baseline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    kept = [c for c in data.columns if c != BAD_COLUMN]
    with run("logreg-without-charges", "linear", parent=baseline):
        model = Pipeline([("prep", _prep(kept)), ("clf", LogisticRegression(max_iter=1000))])
        model.fit(data.X_train[kept], data.y_train)
        data.evaluate(model, data.X_test[kept])


def train(extra_logreg: int, status: Callable[[str], None], spark: bool = False) -> list[str]:
    """Track the whole project (with its Spark ML runs when ``spark``); returns the run names in order."""
    import modeldb
    import modeldb.sklearn

    modeldb.sklearn.autolog()  # the one line: everything below is tracked
    names: list[str] = []

    def run(name: str, experiment: str, **kwargs: Any) -> Any:
        names.append(name)
        status(f"run {len(names)}: {name}")
        return modeldb.start_run(name=name, experiment=experiment, **kwargs)

    with run("data-split", "data"):
        data = _split()
    baseline = _linear(run, data, extra_logreg)
    _trees(run, data)
    _without_bad_column(run, data, baseline)
    if spark:
        from modeldb.devtools import demo_spark

        demo_spark.train(run, status)
    modeldb.sklearn.disable()
    modeldb.flush()
    return names
