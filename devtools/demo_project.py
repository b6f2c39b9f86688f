"""The demo's data-science project: predicting customer churn, tracked by autolog.

Plain scikit-learn code: ``modeldb.sklearn.autolog()`` is the only ModelDB
line the modelling needs. Runs are opened explicitly only to give them names
and to branch one off another.

The data is synthetic (seeded) so the demo needs no download: 6,000
customers with numeric, categorical and a deliberately bad feature,
``monthly_charges``, which the story later finds was miscomputed.
"""
from __future__ import annotations

from typing import Any, Callable

PROJECT = "customer-churn"
BAD_COLUMN = "monthly_charges"


def customers(n: int = 6000, seed: int = 11) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    country = rng.choice(["US", "DE", "FR", "JP", "BR"], n, p=[0.35, 0.2, 0.15, 0.15, 0.15])
    plan = rng.choice(["basic", "pro", "family"], n, p=[0.5, 0.3, 0.2])
    contract = rng.choice(["monthly", "annual"], n, p=[0.6, 0.4])
    tenure = rng.integers(1, 72, n)
    calls = rng.poisson(1.5, n)
    age = rng.integers(18, 85, n)
    charges = (20 + 30 * (plan == "pro") + 45 * (plan == "family") + rng.normal(0, 8, n)).round(2)
    risk = (0.9 * (contract == "monthly") + 0.35 * calls - 0.04 * tenure + 0.6 * (country == "US") * (calls > 2)
            - 0.5 * (plan == "family") + rng.normal(0, 0.8, n))
    X = pd.DataFrame({"age": age, "tenure_months": tenure, "monthly_charges": charges, "support_calls": calls,
                      "country": country, "plan": plan, "contract": contract})
    return X, pd.Series((risk > 0.2).astype(int), name="churned")


def _prep(columns: list[str], dense: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in ("age", "tenure_months", "monthly_charges", "support_calls") if c in columns]
    return ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense), ["country", "plan", "contract"]),
    ])


def train(extra_logreg: int, status: Callable[[str], None], spark: bool = False) -> list[str]:
    """Track the whole project (with its Spark ML runs when ``spark``); returns the run names in order."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import GridSearchCV, cross_validate, train_test_split
    from sklearn.pipeline import Pipeline

    import modeldb
    import modeldb.sklearn

    modeldb.sklearn.autolog()  # the one line: everything below is tracked
    names: list[str] = []

    def evaluate(model: Any, X_eval: Any) -> None:
        predicted = model.predict(X_eval)
        accuracy_score(y_test, predicted)
        f1_score(y_test, predicted)
        roc_auc_score(y_test, model.predict_proba(X_eval)[:, 1])

    def run(name: str, experiment: str, **kwargs: Any) -> Any:
        names.append(name)
        status(f"run {len(names)}: {name}")
        return modeldb.start_run(name=name, experiment=experiment, **kwargs)

    with run("data-split", "data"):
        X, y = customers()
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=7, stratify=y)
        columns = list(X.columns)
    with run("logreg-baseline", "linear") as baseline:
        model = Pipeline([("prep", _prep(columns)), ("clf", LogisticRegression(max_iter=1000))])
        cross_validate(model, X_train, y_train, cv=5, scoring=["accuracy", "f1"])
        model.fit(X_train, y_train)
        evaluate(model, X_test)
    for C in (0.01, 0.1, 10.0, 0.03, 3.0)[:max(0, extra_logreg)]:
        with run(f"logreg-C{C:g}", "linear"):
            model = Pipeline([("prep", _prep(columns)), ("clf", LogisticRegression(C=C, max_iter=1000))])
            model.fit(X_train, y_train)
            evaluate(model, X_test)
    with run("forest-grid", "trees"):
        forest = Pipeline([("prep", _prep(columns)), ("clf", RandomForestClassifier(random_state=0, n_jobs=1))])
        search = GridSearchCV(forest, {"clf__n_estimators": [60, 120], "clf__max_depth": [6, 12]}, cv=3,
                              scoring="accuracy")
        search.fit(X_train, y_train)
        evaluate(search, X_test)
    with run("boosting", "trees"):
        model = Pipeline([("prep", _prep(columns, dense=True)),
                          ("clf", HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, early_stopping=True,
                                                                random_state=0))])
        model.fit(X_train, y_train)
        evaluate(model, X_test)
    kept = [c for c in columns if c != BAD_COLUMN]
    with run("logreg-without-charges", "linear", parent=baseline):
        model = Pipeline([("prep", _prep(kept)), ("clf", LogisticRegression(max_iter=1000))])
        model.fit(X_train[kept], y_train)
        evaluate(model, X_test[kept])
    if spark:
        from modeldb.devtools import demo_spark

        demo_spark.train(run, status)
    modeldb.sklearn.disable()
    modeldb.flush()
    return names
