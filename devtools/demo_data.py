"""The demo's data: a seeded synthetic churn table, shared by the scikit-learn and the Spark ML parts.

6,000 customers with numeric, categorical and a deliberately bad feature, ``monthly_charges``, which the
story later finds was miscomputed. Seeded, so the demo needs no download and every run tracks the same data.
"""
from __future__ import annotations

from typing import Any

PROJECT = "customer-churn"
BAD_COLUMN = "monthly_charges"
NUMERIC = ["age", "tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["country", "plan", "contract"]


def customers(n: int = 6000, seed: int = 11) -> tuple[Any, Any]:
    """The features (a pandas DataFrame) and the ``churned`` label (a Series of 0/1)."""
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
