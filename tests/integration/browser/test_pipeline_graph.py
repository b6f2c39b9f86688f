"""The Pipelines view's stage graph in Chromium: it zooms under the wheel, a click picks a stage, nested stages unfold.

The graph is a Vega-Lite chart drawn as SVG, so its labels are ``<text>`` elements: a zoom is
seen as two labels moving apart, a stage is clicked at its label (an invisible box on top of it
takes the click), and what a click picked is read in the details panel under the graph and in
the page's link.
"""
from __future__ import annotations

import re

from tests.integration.browser.kit import eventually, open_view, settled, shot

GRAPH = '[data-testid="stVegaLiteChart"]'


def open_run(page, base: str, project: str, run: str) -> None:
    """The Pipelines view of one run, through the run picker as a user would."""
    open_view(page, base, "pipelines", project, "Pipelines")
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Run", exact=True)).first
    for _ in range(3):
        if box.locator("input").input_value().strip() == run:
            break
        box.locator("input").click()
        page.keyboard.type(run)
        page.get_by_role("option", name=run, exact=True).first.click()
        settled(page)
    page.get_by_role("heading", name=f"Stages of {run}", exact=False).wait_for()
    graph_label(page, "data …").wait_for()


def graph_label(page, starts: str):
    """The graph's label whose first line starts with ``starts`` (a stage's ``6. fit``, a frame's title)."""
    return page.locator(f"{GRAPH} svg text").filter(has_text=re.compile(rf"^{re.escape(starts)}")).first


def centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box, "not drawn"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def click_stage(page, starts: str) -> None:
    """Click the stage at its label, as a user would (the mouse, not a DOM event: the click goes to Vega)."""
    label = graph_label(page, starts)
    label.scroll_into_view_if_needed()
    x, y = centre(label)
    page.mouse.click(x, y)
    settled(page)


def details(page, title: str):
    """The details panel's heading for the stage ``title`` (``6. fit Pipeline``)."""
    return page.get_by_text(title, exact=True).first


def test_stage_graph_zooms_picks_a_stage_and_unfolds(page, served):
    base, project, *_ = served
    open_run(page, base, project, "logreg-baseline")

    # nested stages are folded: the pipeline is one node, its steps are not drawn
    fit = graph_label(page, "6. fit")
    fit.wait_for()
    assert page.locator(f"{GRAPH} svg text", has_text="LogisticRegression").count() == 0
    font = fit.evaluate("t => parseFloat(getComputedStyle(t).fontSize)")
    assert font >= 12, f"labels are {font}px at the default width"

    # zoom in with the wheel over the graph: the labels move apart
    fit.scroll_into_view_if_needed()
    (ax, ay), (bx, by) = centre(graph_label(page, "6. fit")), centre(graph_label(page, "11. predict"))
    page.mouse.move((ax + bx) / 2, (ay + by) / 2)
    page.mouse.wheel(0, -400)
    eventually(page, lambda: abs(centre(graph_label(page, "11. predict"))[1] - centre(graph_label(page, "6. fit"))[1])
               > 1.3 * abs(by - ay), what="the graph zoomed in under the wheel")
    # and drag to pan: every label moves by the drag
    before = centre(graph_label(page, "6. fit"))
    page.mouse.move(*before)
    page.mouse.down()
    page.mouse.move(before[0] + 60, before[1] + 40, steps=5)
    page.mouse.up()
    eventually(page, lambda: centre(graph_label(page, "6. fit"))[0] > before[0] + 30, what="the graph panned")
    page.mouse.dblclick(*centre(graph_label(page, "6. fit")))  # back to the whole graph
    eventually(page, lambda: abs(centre(graph_label(page, "11. predict"))[1] - centre(graph_label(page, "6. fit"))[1])
               < 1.1 * abs(by - ay), what="a double click reset the zoom")

    # click a stage: its params, columns and duration show under the graph, and its id goes in the link
    click_stage(page, "6. fit")
    details(page, "6. fit Pipeline").wait_for()
    page.get_by_text("Input columns (7)", exact=False).wait_for()
    page.get_by_text(re.compile(r"^\d+ params$")).first.wait_for()
    assert page.get_by_text(re.compile(r"6\. fit Pipeline · [\d.,]+ (ms|s)")).count() >= 1
    eventually(page, lambda: "stage=" in page.url, what="the chosen stage in the link")

    # unfold it: its steps are drawn inside its frame, the column transformer still folded
    page.get_by_role("button", name=re.compile(r"^Unfold its \d+ stages$")).click()
    settled(page)
    graph_label(page, "5. fit").wait_for()  # fit LogisticRegression, stage 1 of the pipeline
    graph_label(page, "4. fit_transform").wait_for()
    assert page.locator(f"{GRAPH} svg text", has_text="StandardScaler").count() == 0
    eventually(page, lambda: "unfold=" in page.url, what="the unfolded pipeline in the link")
    click_stage(page, "5. fit")
    details(page, "5. fit LogisticRegression").wait_for()
    page.get_by_text("Input columns (14)", exact=False).wait_for()
    page.mouse.move(5, 5)  # no tooltip over the picture
    shot(page, "pipelines-graph")

    # a link with the stage and the folding opens the same view
    link = page.url
    page.goto(link)
    details(page, "5. fit LogisticRegression").wait_for()
    graph_label(page, "4. fit_transform").wait_for()


def test_a_search_folds_its_refit(page, served):
    base, project, *_ = served
    open_run(page, base, project, "forest-grid")
    graph_label(page, "1. fit").wait_for()
    assert graph_label(page, "2. fit").count() == 0  # the refit pipeline is inside the search, folded
    click_stage(page, "1. fit")
    details(page, "1. fit GridSearchCV").wait_for()
    page.get_by_role("button", name="Unfold its 1 stage", exact=True).click()
    settled(page)
    graph_label(page, "2. fit").wait_for()
    graph_label(page, "1. fit GridSearchCV").wait_for()  # the search's frame, titled
    click_stage(page, "2. fit")
    details(page, "2. fit Pipeline").wait_for()
