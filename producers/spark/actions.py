"""After a tracked fit, transform or evaluate: the ``OperatorApplied``, the model and the metric.

A fitted model goes to ``storing`` (a whole is written on the background thread; a part's row
follows its whole's). A fit that raised still records its action. A transform's output columns
get their lineage; an evaluator's score is logged against the model whose output it scored,
with the prediction rows behind it.
"""
from __future__ import annotations

import time
from typing import Any

from modeldb.producers.autolog import lineage
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.spark import frames, params, search, slices, stages
from modeldb.producers.spark.calls import SEARCHES, Call, ModelInfo, Output, Part
from modeldb.producers.spark.frames import FrameInfo
from modeldb.producers.spark.storing import annotate

SKIPPED_PARAMS = ("estimatorParamMaps",)


class Actions:
    """The action half of the Spark tracker (mixed into ``Tracker``, which holds the state it reads)."""

    # -- fit ------------------------------------------------------------------------------------
    def _finish_fit(self, p: dict, est: Any, args: tuple, kwargs: dict, model: Any) -> None:
        call, run, x_info, parent = p["call"], p["run"], p["x"], p["parent"]
        extra = args[1] if len(args) > 1 else kwargs.get("params")
        effective = est.copy(extra) if isinstance(extra, dict) and extra else est
        inputs = stages.declared_inputs(effective, x_info.columns, with_label=True)
        self.emit_operator(run, effective, call, "fit", [x_info.dataframe_id], [], inputs, [], [], p)
        features, edges = self._features_of(model, x_info, call)
        self.models.put(model, ModelInfo(call.model_id, x_info, stage_index=p["stage_index"]))
        whole = parent.model_id if parent is not None else None
        event = self.model_event(run, model, call.model_id, call.action_id, x_info, features, edges, whole)
        if type(est).__name__ in SEARCHES:
            search.after_fit(self, run, est, model, call, x_info)
        if parent is not None:  # its row goes out with its whole's (``storing``)
            parent.parts.append(Part(p["stage_index"], model, call.model_id, event, call.parts))
        else:
            self.store_whole(run, model, event, call.parts, p["spark"])

    def _failed_fit(self, p: dict, est: Any, error: BaseException) -> None:
        """A tracked fit raised: its action still goes out (its stages point to it), without a model, and
        the models its finished stages fitted go out as models of their own, without files."""
        call, run, x_info = p["call"], p["run"], p["x"]
        model_id, call.model_id = call.model_id, None
        self.emit_operator(run, est, call, "fit", [x_info.dataframe_id], [],
                           stages.declared_inputs(est, x_info.columns, with_label=True), [], [], p)
        annotate(run, call.action_id, f"failed: {type(error).__name__}: {self.describe(error)}")
        call.model_id = model_id
        self.orphan_parts(run, call, error)

    def _features_of(self, model: Any, x_info: FrameInfo, call: Call) -> tuple[list[str], list[dict[str, str]]]:
        """A model's features and (source column -> feature, path) lineage.

        A pipeline or a search answers with its final model's, traced back to the source columns it used.
        """
        inner = [(part.index if part.index is not None else -1, part.model_id) for part in call.parts
                 if part.model_id in self.features]
        if call.composite and inner:
            features, edges = self.features[max(inner)[1]]
            sources = list(dict.fromkeys(e["src"] for e in edges)) if edges else features
            self.features[call.model_id] = (sources, edges)
            return sources, edges
        features = stages.feature_names(model, x_info)
        edges = stages.model_lineage(model, x_info, features)
        self.features[call.model_id] = (features, edges)
        return features, edges

    # -- transform -----------------------------------------------------------------------------
    def _finish_transform(self, p: dict, obj: Any, args: tuple, kwargs: dict, out: Any) -> None:
        call, run, x_info = p["call"], p["run"], p["x"]
        inputs = stages.declared_inputs(obj, x_info.columns, with_label=False)
        known = set(x_info.columns)
        outputs = [c for c in out.columns if c not in known]
        composed = self.frames.get(out) if call.composite else None
        if composed is not None:  # a pipeline's output: each column from the source columns its stages used
            derivation = {c: list(dict.fromkeys(o for o, _ in composed.sources(c))) for c in outputs}
        else:
            derivation = stages.derivation(obj, inputs, outputs, frames.vector_slots(out))
        extra = args[1] if len(args) > 1 else kwargs.get("params")
        fitted = self.models.get(obj)  # a model's output depends on what it was fitted on, not on its random id
        step = ("transform", type(obj).__name__, fitted.features if fitted is not None else None,
                [(r["key"], r["value"]) for r in params.flat_params(obj)],
                sorted((getattr(k, "name", str(k)), str(v)) for k, v in (extra or {}).items())
                if isinstance(extra, dict) else [])
        provenance = dict(x_info.provenance or {})
        provenance.update(lineage.provenance(x_info, derivation))
        out_info = composed
        if out_info is None:
            out_info = self.derive(out, run, x_info, step, provenance, f"{type(obj).__name__}.transform",
                                   stage=obj.copy(extra) if isinstance(extra, dict) and extra else obj)
        self.emit_operator(run, obj, call, "transform", [x_info.dataframe_id], [out_info.dataframe_id], inputs,
                           outputs, lineage.edges(derivation), p, with_params=False)
        prediction_col = stages.prediction_col(obj, out.columns)
        if call.model_id is not None and prediction_col is not None:
            output = Output(call.model_id, out_info, prediction_col)
            self.outputs.put(out, output)
            self.scored.remember(out, output, outputs)

    # -- evaluate -------------------------------------------------------------------------------
    def _finish_evaluate(self, p: dict, evaluator: Any, args: tuple, kwargs: dict, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        run, dataset = p["run"], p["dataset"]
        output, scored = self.outputs.get(dataset), dataset
        if output is None:  # a later stage's output, a projection, filter or rename of a model's output
            output, scored = self.scored.find(dataset, evaluator, stages.get) or (None, dataset)
        model_id = output.model_id if output else None
        info = output.info if output else self.observe(dataset, run, "input")
        name = stages.metric_name(evaluator)
        run.log_metric(name, float(value), model_id=model_id, dataframe_id=info.dataframe_id)
        if output is not None and self.options.log_predictions and (model_id, info.dataframe_id) not in self._logged:
            self._logged.add((model_id, info.dataframe_id))
            slices.log_predictions(self, run, evaluator, scored, output, p["spark"])

    # -- events ---------------------------------------------------------------------------------
    def emit_operator(self, run: Any, obj: Any, call: Call, action: str, inputs: list[str], outputs: list[str],
                      input_columns: list[str], output_columns: list[str], edges: list[dict[str, str]],
                      p: dict, with_params: bool = True) -> None:
        parent = p["parent"]
        records = [r for r in params.flat_params(obj) if r["key"] not in SKIPPED_PARAMS] if with_params else []
        run.emit_action("OperatorApplied", bounded("OperatorApplied", {
            "action_id": call.action_id, "action": action, "operator_class": type(obj).__name__,
            "operator_module": type(obj).__module__, "model_id": call.model_id, "params": records,
            "input_dataframe_ids": inputs, "output_dataframe_ids": outputs,
            "input_columns": input_columns[:lineage.MAX_EDGES], "output_columns": output_columns[:lineage.MAX_EDGES],
            "column_edges": edges, "parent_action_id": parent.action_id if parent is not None else None,
            "stage_index": p["stage_index"], "duration_ms": (time.perf_counter() - p["started"]) * 1000,
        }))
