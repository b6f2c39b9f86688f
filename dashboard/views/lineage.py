"""Lineage search: which models used a column (directly or through derived features), or a dataset.

Models are listed by name (their run's name and role); ids are one switch away. The search is in the URL.
"""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.dashboard.summary import table_order, with_names
from modeldb.warehouse import queries as Q

SHOWN = 1000
SEARCH_BY = ["column", "dataset fingerprint"]
st.title("Lineage")
project = state.project_or_stop()

with state.panel("Which models used…", caption="a source column (e.g. `monthly_charges`), followed through every "
                 "derived feature; or a dataset fingerprint (or a prefix of one)"):
    c1, c2, c3 = st.columns([1, 3, 1])
    links.bind("lineage_kind", "by", SEARCH_BY[0], options=SEARCH_BY)
    what = c1.radio("Search by", SEARCH_BY, key="lineage_kind")
    links.bind("lineage_needle", "column", "")
    needle = c2.text_input("Column name" if what == "column" else "Fingerprint", key="lineage_needle")
    links.bind("lineage_ids", "ids", False, kind="bool")
    show_ids = c3.toggle("Show ids", key="lineage_ids", help="Add the model, run and parent ids")
    if not needle.strip():
        st.info("Type a column name or a fingerprint to see every model that depends on it.")
    else:
        if what == "column":
            found, total = state.answer(Q.models_using_column_page, project, needle.strip(), limit=SHOWN)
        else:
            found = state.answer(Q.models_on_dataset, project, needle.strip())
            total = len(found)
        if found.empty:
            st.info(f"No model in {project!r} used {what} {needle.strip()!r}. Check the spelling (names are "
                    "case-sensitive), or search by the other kind.")
        else:
            st.success(f"{total:,} models used {what} {needle.strip()!r}"
                       + (f"; the first {len(found):,} are listed" if total > len(found) else ""))
            if "paths" in found:
                found = found.assign(paths=[" ; ".join(p) for p in found["paths"]],
                                     features=[", ".join(f) for f in found["features"]])
            found = with_names(found, state.answer(Q.model_names, project, tuple(found["model_id"])))
            st.dataframe(found, hide_index=True, width="stretch", key="lineage_table",
                         column_order=table_order(found, [], show_ids),
                         column_config={"operator_class": st.column_config.TextColumn("class")})
