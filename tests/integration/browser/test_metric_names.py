"""Metric names that line up across frameworks, in the browser: one accuracy column for scikit-learn's and Spark's models."""
from __future__ import annotations

import re
from urllib.parse import quote

from tests.integration.browser.kit import eventually, open_models, settled, shot, table


def _matching(page) -> int:
    caption = page.get_by_text(re.compile(r"[\d,]+ models match")).first
    caption.wait_for()
    return int(re.search(r"([\d,]+) models match", caption.inner_text()).group(1).replace(",", ""))


def test_one_accuracy_column_holds_scikit_learn_and_spark_models(page, served):
    base, project, names, *_ = served
    assert {"spark-logreg-cv", "spark-forest", "logreg-baseline"} <= set(names)  # both frameworks were tracked
    # the pipelines with an accuracy, parts included (Spark's cross-validated model is scored as its best
    # model, a PipelineModel inside it): few enough that every row is in view
    wanted = "metrics.accuracy >= 0 AND model.operator_class IN ('Pipeline', 'PipelineModel')"
    open_models(page, base, project, "&where=" + quote(wanted) + "&cols=metrics.accuracy&top=0")
    both = _matching(page)
    headers, cells = table(page)
    assert [h for h in headers if h.startswith("metrics.")] == ["metrics.accuracy"], headers
    assert not any("accuracy_score" in h for h in headers)
    runs = {c.split(" › ")[0] for c in cells[headers.index("model")::len(headers)]}
    assert {"spark-forest", "spark-logreg-cv", "logreg-baseline"} <= runs, cells
    accuracy = [float(c) for c in cells[headers.index("metrics.accuracy")::len(headers)] if c]
    assert len(accuracy) == both and all(0.5 < a <= 1 for a in accuracy), (accuracy, both)  # every row has one
    shot(page, "models-metric-names")

    # the name scikit-learn logs finds the same models: any name of the family does
    where = page.get_by_label("Filter")
    where.fill(wanted.replace("metrics.accuracy", "metrics.accuracy_score"))
    where.press("Enter")
    settled(page)
    eventually(page, lambda: "accuracy_score" in page.url, what="the new filter in the URL")
    assert _matching(page) == both
