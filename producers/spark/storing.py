"""Fitted models into the artifact store, and their ``ModelStored`` rows, whatever happens to Spark.

* A whole model (one no tracked composite fitted) is written by Spark ML's writer on the
  background thread; its ``ModelStored`` follows, with the uri when the files were written.
* A part (a pipeline's stage, a search's best model, and that one's stages) is not written
  again: its ``meta.json`` points into its whole. Its ``ModelStored`` goes out in the same job,
  after its whole's: pointing into the whole when the whole was written and holds it, else with
  no uri. So no part ever points to a whole that does not exist.
* A model without files gets an ``Annotated`` event on its id saying why (Spark stopped, the
  JVM is gone, the writer failed, the fit it belonged to failed).
* With ``log_models=False`` nothing is written and every row goes out at once.
"""
from __future__ import annotations

from typing import Any

from modeldb.producers.autolog import lineage, safety
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.spark import params
from modeldb.producers.spark.calls import Part
from modeldb.producers.spark.frames import FrameInfo
from modeldb.producers.spark.models import SPARK_FORMAT, SPARK_PART

AUTHOR = "modeldb.spark"


def annotate(run: Any, target_id: str, text: str) -> None:
    run.emit_action("Annotated", {"text": text, "target_id": target_id, "author": AUTHOR})


def locate(whole: Any, part: Part) -> list | None:
    """Where ``part`` sits in ``whole``, as ``SparkModelStore.load_model`` follows it; None if it does not."""
    stages = getattr(whole, "stages", None)
    if getattr(whole, "bestModel", None) is part.model:
        return [["bestModel", None]]
    if isinstance(stages, list) and part.index is not None and part.index < len(stages) \
            and stages[part.index] is part.model:
        return [["stages", part.index]]
    return None


class Storing:
    """The model half of the Spark tracker (mixed into ``Tracker``, which holds the state it reads)."""

    def model_event(self, run: Any, model: Any, model_id: str, action_id: str | None, x_info: FrameInfo | None,
                    features: list[str], edges: list[dict[str, str]], part_of: str | None) -> dict[str, Any]:
        """The ``ModelStored`` payload of a fitted model (no uri yet), and its objective history as metrics."""
        run.log_curve("objective", params.objective_history(model), model_id=model_id)
        return {
            "model_id": model_id, "operator_class": type(model).__name__, "uri": "", "format": "",
            "size_bytes": -1, "train_dataframe_id": x_info.dataframe_id if x_info else None,
            "feature_names": features[:lineage.MAX_EDGES], "internals": params.internals(model, features),
            "operator_module": type(model).__module__, "action_id": action_id, "parent_model_id": part_of,
            "column_lineage": edges,
        }

    def store_whole(self, run: Any, model: Any, event: dict[str, Any], parts: list[Part], spark: Any) -> None:
        """Write a whole model on the background thread, then emit its row and its parts' rows."""
        if not self.options.log_models:
            self._emit_tree(run, event, parts)
            return
        model_id = event["model_id"]
        cls = type(model).__name__

        def write() -> None:
            why = None
            try:
                uri, size = self.store(spark).put_model(model_id, model, {
                    "operator_class": cls, "run_id": run.run_id, "project": run.project})
                event.update(uri=uri, format=SPARK_FORMAT, size_bytes=size)
            except Exception as exc:  # noqa: BLE001 - a model Spark cannot write is still indexed
                if self.spark_gone(spark) is not None:
                    raise  # Spark stopped meanwhile: ``lost`` records it
                self.warn(f"storing {cls}", exc)
                why = f"model files not written: Spark ML's writer failed ({type(exc).__name__}: {self.describe(exc)})"
            run.emit_action("ModelStored", bounded("ModelStored", event))
            if why is not None:
                annotate(run, model_id, why)
            self._link(run, model, model_id, parts, why, spark)

        def lost(reason: str) -> None:
            event.update(uri="", format="", size_bytes=-1)
            run.emit_action("ModelStored", bounded("ModelStored", event))
            annotate(run, model_id, f"model files not written: {reason}")
            self.losses.add("model", f"{cls} {model_id}", reason)
            self._link(run, model, model_id, parts, reason, spark)

        self.submit(write, f"storing {cls}", lost=lost, spark=spark)

    def _link(self, run: Any, whole: Any, whole_id: str, parts: list[Part], why: str | None, spark: Any) -> None:
        """Each part's row, pointing into ``whole`` when that was written (``why`` is None) and holds it."""
        for part in parts:
            reason = why and f"not stored: stored only as a part of {whole_id}, whose files were not written ({why})"
            locator = locate(whole, part) if reason is None else None
            if reason is None and locator is None:
                reason = f"not stored: not found where Spark ML writes the parts of {whole_id}"
            if reason is None:
                try:
                    self.store(spark).put_part(part.model_id, whole_id, locator)
                    part.event.update(uri=self.store(spark).part_uri(whole_id, part.model_id), format=SPARK_PART)
                except Exception as exc:  # noqa: BLE001 - one part that cannot be linked must not stop the others
                    gone = self.spark_gone(spark)
                    if gone is None:
                        safety.tracker_error(self, f"storing {type(part.model).__name__}", exc)
                        gone = f"{type(exc).__name__}: {self.describe(exc)}"
                    else:
                        self.losses.add("part", f"{type(part.model).__name__} {part.model_id}", gone)
                    reason = f"not stored: its link into {whole_id} was not written ({gone})"
            run.emit_action("ModelStored", bounded("ModelStored", part.event))
            if reason is not None:
                annotate(run, part.model_id, reason)
            self._link(run, part.model, part.model_id, part.parts, reason, spark)

    def _emit_tree(self, run: Any, event: dict[str, Any], parts: list[Part]) -> None:
        run.emit_action("ModelStored", bounded("ModelStored", event))
        for part in parts:
            self._emit_tree(run, part.event, part.parts)

    def orphan_parts(self, run: Any, call: Any, error: BaseException) -> None:
        """A composite's fit failed after some of its parts were fitted: they are models without a whole."""
        text = f"{type(error).__name__}: {self.describe(error)}"
        for part in call.parts:
            part.event["parent_model_id"] = None
            run.emit_action("ModelStored", bounded("ModelStored", part.event))
            if self.options.log_models:
                annotate(run, part.model_id, f"not stored: the {type(call.obj).__name__}.fit it was part of "
                                             f"failed ({text})")
            self._orphan_subparts(run, part, text)

    def _orphan_subparts(self, run: Any, part: Part, text: str) -> None:
        for sub in part.parts:
            run.emit_action("ModelStored", bounded("ModelStored", sub.event))
            if self.options.log_models:
                annotate(run, sub.model_id, f"not stored: its whole {part.model_id} has no files ({text})")
            self._orphan_subparts(run, sub, text)
