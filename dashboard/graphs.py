"""Graphviz (DOT) pictures of pipelines and version trees, drawn by ``st.graphviz_chart``."""
from __future__ import annotations

import numbers
from typing import Any


def _q(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short_id(value: str) -> str:
    return value[-8:] if value else "?"


def pipeline(actions: Any, frames: Any, max_columns: int = 6) -> str:
    """Data → operator → data, stage by stage: dataframes as boxes (rows × columns), actions as ellipses."""
    shape = {row.dataframe_id: (row.n_rows, row.n_columns) for row in frames.itertuples()}
    lines = ["digraph pipeline {", "rankdir=LR;", 'node [fontname="Helvetica", fontsize=10];',
             'edge [color="#888888"];']
    seen: set[str] = set()

    def data_node(dataframe_id: str) -> str:
        name = f"d_{dataframe_id}"
        if dataframe_id not in seen:
            seen.add(dataframe_id)
            rows, cols = shape.get(dataframe_id, ("?", "?"))
            label = _q(f"data …{_short_id(dataframe_id)}" + "\n" + f"{rows:,} rows × {cols} cols"
                       if isinstance(rows, numbers.Integral) else f"data …{_short_id(dataframe_id)}")
            lines.append(f'{_q(name)} [shape=box, style="rounded,filled", fillcolor="#eef3fb", label={label}];')
        return name

    for number, action in enumerate(actions.itertuples(), 1):
        op = f"a_{action.action_id}"
        columns = list(action.output_columns)[:max_columns]
        more = len(action.output_columns) - len(columns)
        label = f"{number}. {action.action} {action.operator_class}\n{action.duration_ms:,.1f} ms"
        if columns:
            label += "\n→ " + ", ".join(columns) + (f" (+{more})" if more > 0 else "")
        nested = action.stage_index >= 0
        lines.append(f'{_q(op)} [shape=ellipse, style=filled, fillcolor={_q("#fff4e0" if nested else "#ffe3b3")}, '
                     f'label={_q(label)}];')
        for dataframe_id in action.input_dataframe_ids:
            lines.append(f"{_q(data_node(dataframe_id))} -> {_q(op)};")
        for dataframe_id in action.output_dataframe_ids:
            lines.append(f"{_q(op)} -> {_q(data_node(dataframe_id))};")
    lines.append("}")
    return "\n".join(lines)


def version_tree(tree: Any) -> str:
    """A run's version tree: parent → branch, the chosen run highlighted."""
    lines = ["digraph versions {", "rankdir=TB;", 'node [shape=box, style="rounded,filled", fontname="Helvetica", '
             'fontsize=10];']
    for row in tree.itertuples():
        color = "#ffe3b3" if row.selected else "#eef3fb"
        label = _q(f"{row.name or _short_id(row.run_id)}" + "\n" + str(row.status))
        lines.append(f'{_q(row.run_id)} [fillcolor={_q(color)}, label={label}];')
        if row.parent_run_id and row.parent_run_id in set(tree["run_id"]):
            lines.append(f"{_q(row.parent_run_id)} -> {_q(row.run_id)};")
    lines.append("}")
    return "\n".join(lines)
