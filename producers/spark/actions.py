"""After a tracked fit, transform or evaluate: the ``OperatorApplied``, the model and the metric.

A whole model is written by Spark ML's writer on the background thread (its
``ModelStored`` follows); a part (a pipeline stage, a search's best model) points into
its whole. A transform's output columns get their lineage; an evaluator's score is
logged against the model whose output it scored, with the prediction rows behind it.
"""
from __future__ import annotations

import time
from typing import Any

from modeldb.producers.autolog import lineage, safety
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.spark import frames, params, search, slices, stages
from modeldb.producers.spark.calls import SEARCHES, Call, ModelInfo, Output
from modeldb.producers.spark.frames import FrameInfo
from modeldb.producers.spark.models import SPARK_FORMAT, SPARK_PART

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
        self.models.put(model, ModelInfo(call.model_id, x_info, p["stage_index"]))
        whole = parent.model_id if parent is not None else None
        self.store_model(run, model, call.model_id, call.action_id, x_info, features, edges, part_of=whole,
                         spark=p["spark"])
        if parent is not None:
            parent.parts.append((p["stage_index"], model, call.model_id))
        if type(est).__name__ in SEARCHES:
            search.after_fit(self, run, est, model, call, x_info)
        self.link_parts(model, call.model_id, call.parts, p["spark"])

    def _features_of(self, model: Any, x_info: FrameInfo, call: Call) -> tuple[list[str], list[dict[str, str]]]:
        """A model's features and (source column -> feature, path) lineage.

        A pipeline or a search answers with its final model's, traced back to the source columns it used.
        """
        inner = [(i if i is not None else -1, part_id) for i, _, part_id in call.parts if part_id in self.features]
        if call.composite and inner:
            features, edges = self.features[max(inner)[1]]
            sources = list(dict.fromkeys(e["src"] for e in edges)) if edges else features
            self.features[call.model_id] = (sources, edges)
            return sources, edges
        features = stages.feature_names(model, x_info)
        edges = stages.model_lineage(model, x_info, features)
        self.features[call.model_id] = (features, edges)
        return features, edges

    def store_model(self, run: Any, model: Any, model_id: str, action_id: str | None, x_info: FrameInfo | None,
                    features: list[str], edges: list[dict[str, str]], part_of: str | None, spark: Any) -> None:
        """Index a fitted model. A whole model is written by Spark ML's writer on the background thread
        (its ``ModelStored`` follows); a part (a stage, a search's best model) points into its whole."""
        event = {
            "model_id": model_id, "operator_class": type(model).__name__, "uri": "", "format": "",
            "size_bytes": -1, "train_dataframe_id": x_info.dataframe_id if x_info else None,
            "feature_names": features[:lineage.MAX_EDGES], "internals": params.internals(model, features),
            "operator_module": type(model).__module__, "action_id": action_id, "parent_model_id": part_of,
            "column_lineage": edges,
        }
        for step, value in enumerate(params.objective_history(model)):
            run.log_metric("objective", value, step, model_id=model_id)
        if not self.options.log_models:
            run.emit_action("ModelStored", bounded("ModelStored", event))
        elif part_of is not None:
            event.update(uri=self.store(spark).part_uri(part_of, model_id), format=SPARK_PART)
            run.emit_action("ModelStored", bounded("ModelStored", event))
        else:
            def write() -> None:
                try:
                    uri, size = self.store(spark).put_model(model_id, model, {
                        "operator_class": type(model).__name__, "run_id": run.run_id, "project": run.project})
                    event.update(uri=uri, format=SPARK_FORMAT, size_bytes=size)
                except Exception as exc:  # noqa: BLE001 - a model Spark cannot write is still indexed
                    self.warn(f"storing {type(model).__name__}", exc)
                run.emit_action("ModelStored", bounded("ModelStored", event))

            self.submit(write, f"storing {type(model).__name__}")

    def link_parts(self, whole: Any, whole_id: str, parts: list, spark: Any) -> None:
        """Record where each part sits in its whole, once the whole is written (next on the background thread)."""
        if self.options.log_models and parts:
            self.submit(lambda: self._link_parts(whole, whole_id, parts, spark), "storing parts")

    def _link_parts(self, whole: Any, whole_id: str, parts: list, spark: Any) -> None:
        stages = getattr(whole, "stages", None)
        for index, part, part_id in parts:
            try:
                if getattr(whole, "bestModel", None) is part:
                    locator = [["bestModel", None]]
                elif isinstance(stages, list) and index is not None and index < len(stages) and stages[index] is part:
                    locator = [["stages", index]]
                else:
                    continue
                self.store(spark).put_part(part_id, whole_id, locator)
            except Exception as exc:  # noqa: BLE001 - one part that cannot be stored must not stop the others
                safety.tracker_error(self, f"storing {type(part).__name__}", exc)

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
            self.outputs.put(out, Output(call.model_id, out_info, prediction_col))

    # -- evaluate -------------------------------------------------------------------------------
    def _finish_evaluate(self, p: dict, evaluator: Any, args: tuple, kwargs: dict, value: Any) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        run, dataset = p["run"], p["dataset"]
        output = self.outputs.get(dataset)
        model_id = output.model_id if output else None
        info = output.info if output else p["x"]
        name = stages.metric_name(evaluator)
        run.log_metric(name, float(value), model_id=model_id, dataframe_id=info.dataframe_id)
        if output is not None and self.options.log_predictions and (model_id, info.dataframe_id) not in self._logged:
            self._logged.add((model_id, info.dataframe_id))
            slices.log_predictions(self, run, evaluator, dataset, output, p["spark"])

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
