"""What a pyspark.ml stage declares about itself: its columns, params and names (no tracker state).

The tracker reads these to name a stage's inputs and outputs, derive its output columns'
lineage, and name its metrics; ``slices`` reads them for the prediction rows.
"""
from __future__ import annotations

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


def vector_input(model: Any, x_info: FrameInfo) -> str | None:
    """The assembled vector a model reads: its ``featuresCol``, or a vector ``inputCol`` (PCA, a scaler)."""
    final = params.final_model(model)
    for name in ("featuresCol", "inputCol"):
        col = get(final, name)
        if isinstance(col, str) and col in x_info.slots:
            return col
    return None


def feature_names(model: Any, x_info: FrameInfo) -> list[str]:
    features_col = vector_input(model, x_info)
    if features_col is not None:
        return list(x_info.slots[features_col])
    return declared_inputs(model, x_info.columns, with_label=False)


def model_lineage(model: Any, x_info: FrameInfo | None, features: list[str]) -> list[dict[str, str]]:
    if x_info is None:
        return []
    features_col = vector_input(model, x_info)
    provenance = x_info.provenance or {}

    def sources(feature: str) -> tuple[tuple[str, str], ...]:
        if feature in provenance:
            return provenance[feature]
        if isinstance(features_col, str) and features_col in x_info.slots:
            return tuple((origin, f"{path} > {feature}") for origin, path in x_info.sources(features_col))
        return x_info.sources(feature)

    return slot_lineage(features, sources)


def slot_lineage(features: list[str], sources: Any) -> list[dict[str, str]]:
    """(source column -> feature, path) for every slot of the assembled vector, up to the bound on feature
    names (``lineage.MAX_EDGES``): a one-hot column with hundreds of values keeps every slot's edge."""
    out: list[dict[str, str]] = []
    for feature in features[:lineage.MAX_EDGES]:
        for origin, path in sources(feature):
            out.append({"src": origin, "dst": feature, "path": path})
            if len(out) >= lineage.MAX_EDGES:
                return out
    return out


def prediction_col(obj: Any, columns: list[str]) -> str | None:
    """The prediction column in ``columns`` of the last stage that makes one (a pipeline may end in a stage
    that does not, such as ``IndexToString`` or a ``SQLTransformer``)."""
    for stage in reversed(params.all_stages(obj)):
        col = get(stage, "predictionCol")
        if isinstance(col, str) and col in columns:
            return col
    return None


def metric_name(evaluator: Any) -> str:
    name = get(evaluator, "metricName")
    return str(name) if name else type(evaluator).__name__


def stage_index(parent: Any, obj: Any, tracker: Any) -> int | None:
    """Where ``obj`` sits in the composite ``parent`` is running.

    A fit with extra params (a search's refit: ``est.fit(data, best_params)``) runs on a copy of the
    pipeline, whose stages are copies: they keep their uid, so a stage is found by identity, then by uid.
    """
    stages = getattr(parent.obj, "getStages", None)
    stages = list(stages() if stages is not None else getattr(parent.obj, "stages", None) or ())
    for i, stage in enumerate(stages):
        if stage is obj:
            return i
    uid = getattr(obj, "uid", None)
    same = [i for i, stage in enumerate(stages) if uid is not None and getattr(stage, "uid", None) == uid]
    if len(same) == 1:
        return same[0]
    info = tracker.models.get(obj)  # a model fitted by this pipeline, now transforming: its estimator's slot
    return info.stage_index if info is not None else None
