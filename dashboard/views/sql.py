"""Ad-hoc ClickHouse SQL, read-only, with the schema alongside, download and a quick chart."""
from __future__ import annotations

import streamlit as st

from modeldb.dashboard import links, state
from modeldb.warehouse import queries as Q

st.title("SQL")
wh = state.warehouse()
EXAMPLE = f"""SELECT operator_class, count() AS models
FROM {wh.database}.models
GROUP BY operator_class
ORDER BY models DESC"""

main, schema_col = st.columns([3, 1])
with schema_col:
    st.markdown("**Schema**")
    schema = Q.schema_table()
    tables = list(dict.fromkeys(schema["table"]))
    table = st.selectbox("Table", tables, index=tables.index("current_models") if "current_models" in tables else 0,
                         key="sql_schema_table")
    columns = schema[schema["table"] == table]
    st.caption(columns["table meaning"].iloc[0])
    st.dataframe(columns[["column", "type", "meaning"]], hide_index=True, width="stretch", height=420)

with main:
    st.caption(f"Read-only: anything that writes is refused. Tables are in database `{wh.database}`. "
               f"At most {Q.adhoc.MAX_ROWS:,} rows are shown.")
    links.bind("sql_text", "sql", EXAMPLE)  # a link to the page carries the query, and runs it when it was run
    sql = st.text_area("Query", height=180, key="sql_text")
    run = st.button("Run", type="primary", key="sql_run")
    links.bind("sql_ran", "ran", False, kind="bool")
    if run or st.session_state.get("sql_ran"):
        st.session_state["sql_ran"] = True
        with state.panel():
            frame, truncated = Q.run_sql(wh, sql)
            if truncated:
                st.warning(f"The answer is larger than {Q.adhoc.MAX_ROWS:,} rows; showing the first "
                           f"{Q.adhoc.MAX_ROWS:,}. Add a LIMIT or aggregate, or use `modeldb sql -f parquet -o file` "
                           "for the whole answer.")
            st.caption(f"{len(frame):,} rows")
            st.dataframe(frame, hide_index=True, width="stretch", key="sql_result")
            st.download_button("Download CSV", frame.to_csv(index=False).encode(), "modeldb-query.csv", "text/csv",
                               key="sql_download")
            numeric = [c for c in frame.columns if frame[c].dtype.kind in "fiu"]
            if len(frame) and numeric:
                with st.expander("Quick chart", expanded=True):
                    c1, c2, c3 = st.columns(3)
                    x = c1.selectbox("x", list(frame.columns), key="sql_chart_x")
                    y = c2.selectbox("y", numeric, index=len(numeric) - 1, key="sql_chart_y")
                    kind = c3.selectbox("Chart", ["bar", "line", "scatter"], key="sql_chart_kind")
                    draw = {"bar": st.bar_chart, "line": st.line_chart, "scatter": st.scatter_chart}[kind]
                    draw(frame, x=x, y=y)
