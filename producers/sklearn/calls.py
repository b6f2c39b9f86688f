"""What the scikit-learn tracker keeps about calls and models, and the ``OperatorApplied`` it emits.

Shared by the tracker and the parts that work beside it (``model_selection``,
``evaluation``), so that none of them imports another to reach these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modeldb.producers.autolog import calls as autolog_calls
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.autolog.lineage import MAX_EDGES
from modeldb.producers.sklearn import params
from modeldb.producers.sklearn.data import DataInfo


@dataclass
class Call(autolog_calls.Call):
    stages: int = 0  # parts: (fitted stage, model id) of a composite's stages


ModelInfo = autolog_calls.ModelInfo  # features: the DataInfo it was fitted on


@dataclass
class Prediction:
    """What a metric call needs of a predict output: copies of its first rows, never the output itself
    (the registry entry must die with the output)."""
    model_id: str
    data: DataInfo | None
    method: str
    n_rows: int
    head: Any  # the first max_prediction_rows predictions (a copy)
    slices: dict[str, Any]  # slice column -> the same rows' values (copies)
    linked: bool = False


@dataclass
class Options:
    experiment: str | None = None
    log_models: bool = True
    slice_columns: tuple[str, ...] | None = None
    max_prediction_rows: int = 100_000
    run_name: str | None = None


def emit_operator(run: Any, est: Any, action_id: str, action: str, model_id: str | None, *, with_params: bool,
                  inputs: list[str], outputs: list[str] = (), input_columns: list[str] = (),
                  output_columns: list[str] = (), column_edges: list[dict[str, str]] = (),
                  parent_action_id: str | None = None, stage_index: int | None = None,
                  duration_ms: float = 0.0) -> None:
    """One ``OperatorApplied`` action of ``est``, its params typed when it was fitted, kept within bounds."""
    run.emit_action("OperatorApplied", bounded("OperatorApplied", {
        "action_id": action_id, "action": action, "operator_class": type(est).__name__,
        "operator_module": type(est).__module__, "model_id": model_id,
        "params": params.flat_params(est) if with_params else [],
        "input_dataframe_ids": list(inputs), "output_dataframe_ids": list(outputs),
        "input_columns": list(input_columns)[:MAX_EDGES],
        "output_columns": list(output_columns)[:MAX_EDGES], "column_edges": list(column_edges),
        "parent_action_id": parent_action_id, "stage_index": stage_index, "duration_ms": duration_ms,
    }))
