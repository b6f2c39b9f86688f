"""ModelDB's dashboard: ``modeldb dashboard`` (or ``streamlit run dashboard/app.py``).

Five pages over the warehouse's named queries: the projects overview, a project's pipelines and
models (the paper's three views), lineage search, and ad-hoc SQL. Every read is read-only.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from modeldb.dashboard import links, state

HERE = Path(__file__).resolve().parent
PAGES = {
    "overview": st.Page(HERE / "views" / "overview.py", title="Projects", icon=":material/dashboard:", default=True),
    "pipelines": st.Page(HERE / "views" / "pipelines.py", title="Pipelines", icon=":material/account_tree:"),
    "models": st.Page(HERE / "views" / "models.py", title="Models", icon=":material/table_chart:"),
    "lineage": st.Page(HERE / "views" / "lineage.py", title="Lineage", icon=":material/conversion_path:"),
    "sql": st.Page(HERE / "views" / "sql.py", title="SQL", icon=":material/terminal:"),
}

st.set_page_config(page_title="ModelDB", page_icon=":material/model_training:", layout="wide")
page = st.navigation(list(PAGES.values()))
links.begin()
state.warehouse()  # a clear message instead of the page when the warehouse cannot be opened
state.sidebar_status()
page.run()
links.publish()  # the view's state into the URL (a page that stops early publishes first: state.stop)
