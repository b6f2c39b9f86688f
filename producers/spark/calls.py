"""What the Spark tracker keeps about its options, calls and models."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modeldb.producers.autolog import calls as autolog_calls
from modeldb.producers.spark import frames
from modeldb.producers.spark.frames import FrameInfo

SEARCHES = ("CrossValidator", "TrainValidationSplit")
SEARCH_MODELS = ("CrossValidatorModel", "TrainValidationSplitModel")
# Calls whose inner calls on the driver thread are tracked too: a pipeline's stages, and a search's refit of
# the best model (its candidates run in pool threads, where tracking is suppressed).
COMPOSITES = ("Pipeline", "PipelineModel") + SEARCHES


@dataclass
class Options:
    experiment: str | None = None
    log_models: bool = True
    count_rows: bool = True
    column_stats: bool = True
    sample_rows: int = frames.SAMPLE_KEYS
    key_column: str | None = None
    slice_columns: tuple[str, ...] | None = None
    max_prediction_rows: int = 100_000
    log_predictions: bool = True
    executor_predictions: bool = True
    run_name: str | None = None
    stop_timeout: float = 120.0


@dataclass
class Part:
    """A fitted model that is a part of the whole being fitted (a pipeline's stage, a search's best model).

    Its ``ModelStored`` (``event``) goes out once its whole's fate is known: pointing into the whole when
    the whole was written, else without a uri and with the reason (``storing``)."""
    index: int | None
    model: Any
    model_id: str
    event: dict[str, Any]
    parts: list = field(default_factory=list)  # its own parts (a search's best pipeline's stages)


@dataclass
class Fold:
    """One fold of a search, as ``_parallelFitTasks`` saw it: the candidates' scores and its frames."""
    scores: dict[int, float] = field(default_factory=dict)
    train: str | None = None  # dataframe ids, when the frames could be observed without a pass over the data
    validation: str | None = None


@dataclass
class Call(autolog_calls.Call):  # parts: list[Part]
    folds: list = field(default_factory=list)  # a search's folds (Fold)
    run: Any = None
    frame: Any = None  # the FrameInfo of the data it was called on


@dataclass
class ModelInfo(autolog_calls.ModelInfo):  # features: the FrameInfo it was fitted on
    stage_index: int | None = None


@dataclass
class Output:
    """A tracked model's output frame: what an evaluator scoring it is linked to."""
    model_id: str
    info: FrameInfo
    prediction_col: str
