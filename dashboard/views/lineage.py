"""Lineage search: which models used a column (directly or through derived features), or a dataset."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import state
from modeldb.warehouse import queries as Q

SHOWN = 1000
st.title("Lineage")
project = state.project_or_stop()

with state.panel("Which models used…", caption="a source column (e.g. `monthly_charges`), followed through every "
                 "derived feature; or a dataset fingerprint (or a prefix of one)"):
    c1, c2 = st.columns([1, 3])
    what = c1.radio("Search by", ["column", "dataset fingerprint"], key="lineage_kind")
    needle = c2.text_input("Column name" if what == "column" else "Fingerprint", key="lineage_needle",
                           value=st.query_params.get("column", ""))
    if not needle.strip():
        st.info("Type a column name or a fingerprint to see every model that depends on it.")
    else:
        if what == "column":
            found, total = state.answer(Q.models_using_column_page, project, needle.strip(), limit=SHOWN)
        else:
            found = state.answer(Q.models_on_dataset, project, needle.strip())
            total = len(found)
        if found.empty:
            st.info(f"No model in {project!r} used {what} {needle.strip()!r}.")
        else:
            st.success(f"{total:,} models used {what} {needle.strip()!r}"
                       + (f"; the first {len(found):,} are listed" if total > len(found) else ""))
            if "paths" in found:
                found = found.assign(paths=[" ; ".join(p) for p in found["paths"]],
                                     features=[", ".join(f) for f in found["features"]])
            st.dataframe(found, hide_index=True, width="stretch")
