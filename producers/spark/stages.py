"""What a pyspark.ml stage declares about itself: its columns, params and names (no tracker state).

The tracker reads these to name a stage's inputs and outputs, derive its output columns'
lineage, and name its metrics; ``slices`` reads them for the prediction rows.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from modeldb.producers.autolog import lineage
from modeldb.producers.spark import params
from modeldb.producers.spark.frames import FrameInfo

INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol")


def app_tags(sc: Any) -> dict[str, str]:
    return {"spark.app.id": str(sc.applicationId), "spark.app.name": str(sc.appName), "spark.master": str(sc.master)}


def describe(df: Any, text: str) -> None:
    try:
        df.sparkSession.sparkContext.setLocalProperty("spark.job.description", text)
    except Exception:  # noqa: BLE001 - only a label in the Spark UI
        pass


def is_param_list(args: tuple, kwargs: dict) -> bool:
    extra = args[1] if len(args) > 1 else kwargs.get("params")
    return isinstance(extra, (list, tuple))


def get(obj: Any, name: str) -> Any:
    try:
        if obj.hasParam(name) and obj.isDefined(name):
            return obj.getOrDefault(name)
    except Exception:  # noqa: BLE001
        pass
    return None


def declared_inputs(obj: Any, columns: list[str], with_label: bool) -> list[str]:
    """The columns a stage reads: its inputCol(s) or featuresCol (and labelCol when fitting); else all."""
    out: list[str] = []
    for name in INPUT_PARAMS + (("labelCol",) if with_label else ()):
        value = get(obj, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v in columns and v not in out:
                out.append(v)
    return out or list(columns)


def derivation(obj: Any, inputs: list[str], outputs: list[str], slots: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each new column's source columns; and each named vector slot's (``country_vec_US`` from ``country_vec``)."""
    ins, outs = get(obj, "inputCols"), get(obj, "outputCols")
    pairs = dict(zip(outs, ins)) if isinstance(ins, list) and isinstance(outs, list) and len(ins) == len(outs) else {}
    derivation: dict[str, list[str]] = {}
    for column in outputs:
        derivation[column] = [pairs[column]] if column in pairs and pairs[column] in inputs else list(inputs)
    named = set(inputs)
    for column in outputs:
        for slot in slots.get(column, ()):
            source = lineage.named_source(slot, named)
            if source and slot not in derivation:
                derivation[slot] = source
    return derivation


def feature_names(model: Any, x_info: FrameInfo) -> list[str]:
    features_col = get(params.final_model(model), "featuresCol")
    if isinstance(features_col, str) and features_col in x_info.slots:
        return list(x_info.slots[features_col])
    return declared_inputs(model, x_info.columns, with_label=False)


def model_lineage(model: Any, x_info: FrameInfo | None, features: list[str]) -> list[dict[str, str]]:
    if x_info is None:
        return []
    features_col = get(params.final_model(model), "featuresCol")
    provenance = x_info.provenance or {}

    def sources(feature: str) -> tuple[tuple[str, str], ...]:
        if feature in provenance:
            return provenance[feature]
        if isinstance(features_col, str) and features_col in x_info.slots:
            return tuple((origin, f"{path} > {feature}") for origin, path in x_info.sources(features_col))
        return x_info.sources(feature)

    return lineage.model_lineage(SimpleNamespace(columns=features, sources=sources))


def prediction_col(obj: Any, columns: list[str]) -> str | None:
    col = get(params.final_model(obj), "predictionCol")
    return col if isinstance(col, str) and col in columns else None


def metric_name(evaluator: Any) -> str:
    name = get(evaluator, "metricName")
    return str(name) if name else type(evaluator).__name__


def stage_index(parent: Any, obj: Any, tracker: Any) -> int | None:
    stages = getattr(parent.obj, "getStages", None)
    stages = stages() if stages is not None else getattr(parent.obj, "stages", None)
    for i, stage in enumerate(stages or ()):
        if stage is obj:
            return i
    info = tracker.models.get(obj)  # a model fitted by this pipeline, now transforming: its estimator's slot
    return info.stage_index if info is not None else None
