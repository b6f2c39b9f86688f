"""What the scripts share: the data they model, and a way to say what they did.

The data is generated from a seed, so the test can build the very same rows to check that a
stored model predicts what the script's model predicted. Each script writes what it did, as
the user sees it (rows it counted, predictions it collected), to ``$SCRIPT_FACTS``; the test
compares the warehouse with that.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd


def customers_pdf(n: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    countries = [f"C{i:02d}" for i in range(24)]  # many values: a one-hot vector of 23 slots
    pdf = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50, 12, n).round(2),
        "country": rng.choice(["US", "DE", "FR", "JP"], n, p=[0.4, 0.2, 0.2, 0.2]),
        "city": rng.choice(countries, n),
        "plan": rng.choice(["basic", "pro"], n),
    })
    signal = pdf.age / 10 + (pdf.country == "US") * 2 + (pdf.plan == "pro") - pdf.income / 25
    pdf["churn"] = np.where(signal + rng.normal(0, 1, n) > 4, "yes", "no")
    pdf["churned"] = (pdf.churn == "yes").astype(float)
    return pdf


def customers(spark, n: int = 800, seed: int = 0):
    return spark.createDataFrame(customers_pdf(n, seed))


def facts(**values) -> None:
    with open(os.environ["SCRIPT_FACTS"], "w") as handle:
        json.dump(values, handle, default=float)


def by_id(rows, column: str = "prediction") -> dict[str, float]:
    return {str(r["id"]): float(r[column]) for r in rows}
