"""The pipelines view's drill-down in Chromium: one sampled row, and what each stage added to it.

The Spark run's pipeline (StringIndexer → OneHotEncoder → VectorAssembler → LogisticRegression)
appends an index, one-hot vectors, the assembled vector and the prediction to each row; the
drill-down must show them, each with the stage that produced it, next to the source values.
"""
from __future__ import annotations

from tests.integration.browser.kit import choose, eventually, open_view, selected, settled, shot, table


def _drilldown(page) -> dict[str, tuple[str, str, str]]:
    """The drill-down table as column -> (value, kind, stage), from the grid's cells (stage, column, value, kind)."""
    headers, cells = table(page, 1)
    assert headers[-4:] == ["stage", "column", "value", "kind"], headers
    rows = [cells[i:i + 4] for i in range(0, len(cells) - len(cells) % 4, 4)]
    return {column: (value, kind, stage) for stage, column, value, kind in rows}


def test_the_drilldown_shows_what_each_stage_adds(page, served):
    base, project, *_ = served
    open_view(page, base, "pipelines", project, "Pipelines")
    choose(page, "stSelectbox", "Run", "spark-logreg-cv")
    page.get_by_role("heading", name="Stages of spark-logreg-cv", exact=False).wait_for()
    page.get_by_role("heading", name="Follow a data item through the stages").wait_for()
    page.get_by_text("values from the source;", exact=False).wait_for()

    grid = page.locator('[data-testid="stDataFrame"]').nth(1)
    grid.scroll_into_view_if_needed()
    # Streamlit replaces a page's elements in order, so for a moment after the pick the heading is
    # this run's while the grid below still holds the previous run's rows: wait for this run's model.
    eventually(page, lambda: "LogisticRegressionModel" in _drilldown(page).get("prediction", ("", "", ""))[2],
               what="this run's prediction (by its LogisticRegressionModel) in the drill-down")
    key = selected(page, "Row key")  # the default: a row followed furthest, through to the prediction
    assert key, "no row key offered"
    drill = _drilldown(page)

    assert drill["country"][1] == "source" and drill["country"][2] == "source"
    assert drill["country_idx"][1] == "derived" and "StringIndexerModel" in drill["country_idx"][2]
    slot = next(c for c in drill if c.startswith("country_vec["))
    assert drill[slot][1] == "vector slot" and "OneHotEncoderModel" in drill[slot][2]
    named = [c for c in drill if c.startswith("features[country_vec_")]
    assert named and "VectorAssembler" in drill[named[0]][2], sorted(drill)  # a slot of the vector, by name
    assert drill["prediction"][1] == "prediction" and "LogisticRegressionModel" in drill["prediction"][2]
    assert drill["probability[1]"][1] == "probability" and 0.0 <= float(drill["probability[1]"][0]) <= 1.0
    shot(page, "pipelines-drilldown")

    # the same row as each stage output it, one switch away
    page.get_by_text("the row at every stage", exact=True).click()
    settled(page)
    eventually(page, lambda: "side" in table(page, 1)[0], what="the per-stage table")
    assert selected(page, "Row key") == key
