"""Which input columns a fitted composite actually uses: lineage that means "used", not "was in the frame".

A ``Pipeline``, ``ColumnTransformer``, ``FeatureUnion``, search, ``Stacking*``, ``Voting*`` or other
meta-estimator is fitted on a whole frame, but uses only the columns one of its fitted parts
consumes. Walking the fitted structure, with every column carrying the input columns it comes from:

* a column dropped by ``remainder='drop'`` or a ``'drop'`` transformer is not used;
* a column removed by a selector (anything with ``get_support``: ``SelectKBest``,
  ``SelectFromModel``, ``RFE``/``RFECV``, ``VarianceThreshold``, ``SequentialFeatureSelector``) is
  not used; a ``'passthrough'`` column is;
* a transformer that names its outputs (``get_feature_names_out``) maps each output to the input it
  names (``country_US`` to ``country``), or to all its inputs when it names none (``pca0``);
* an opaque transformer (a ``FunctionTransformer`` without ``feature_names_out``) counts as using
  all its inputs, and the columns it used carry its class as an *opaque* mark;
* a predictor at the end uses every column it is given; a meta-estimator uses what its fitted
  inner estimators use (and all columns where it passes them through, ``Stacking*(passthrough=True)``).

Anything the walk cannot follow counts as using every column, marked opaque: lineage may say too
much, never too little.
"""
from __future__ import annotations

from typing import Any, Sequence

# (column name, the top-level input columns it comes from, the opaque operators on the way)
Col = tuple[str, frozenset, frozenset]
Used = dict[str, frozenset]  # top-level input column -> opaque operators it went through ("" = none)

INNER = ("best_estimator_", "estimator_", "regressor_", "classifier_")


def columns(names: Sequence[str]) -> list[Col]:
    return [(n, frozenset((n,)), frozenset()) for n in names]


def is_composite(est: Any) -> bool:
    """Whether ``est``'s use of its input columns can differ from "all of them"."""
    return any(hasattr(est, a) for a in ("steps", "transformers_", "transformer_list", "get_support",
                                         "estimators_", "calibrated_classifiers_", *INNER))


def _everything(cols: list[Col], mark: str | None) -> tuple[frozenset, frozenset]:
    sources: set = set()
    opaque: set = set()
    for _, s, o in cols:
        sources |= s
        opaque |= o
    if mark:
        opaque.add(mark)
    return frozenset(sources), frozenset(opaque)


def _passthrough(est: Any) -> bool:
    return est is None or (isinstance(est, str) and est == "passthrough")


def _dropped(est: Any) -> bool:
    return isinstance(est, str) and est == "drop"


def transform(est: Any, cols: list[Col], width: int | None = None) -> list[Col] | None:
    """The columns ``est``'s transform outputs, each with its sources; None when it cannot be followed."""
    if _dropped(est):
        return []
    if _passthrough(est):
        return list(cols)
    try:
        if hasattr(est, "steps"):
            return _pipeline(est, cols, width)
        if hasattr(est, "transformers_"):
            return _column_transformer(est, cols)
        if hasattr(est, "transformer_list"):
            return _union(est, cols, width)
        if hasattr(est, "get_support"):
            mask = list(est.get_support())
            return [c for c, keep in zip(cols, mask) if keep] if len(mask) == len(cols) else None
        return _by_names(est, cols, width)
    except Exception:  # noqa: BLE001 - an unfitted part or an odd third-party estimator: opaque
        return None


def _pipeline(est: Any, cols: list[Col] | None, width: int | None) -> list[Col] | None:
    steps = [s for _, s in est.steps if not _passthrough(s)]
    for i, step in enumerate(steps):
        after = steps[i + 1] if i + 1 < len(steps) else None
        hint = getattr(after, "n_features_in_", None) if after is not None else width
        out = transform(step, cols, hint)
        cols = out if out is not None else _opaque(step, cols, hint)
        if cols is None:
            return None
    return cols


def _opaque(est: Any, cols: list[Col], width: int | None) -> list[Col] | None:
    if width is None:
        return None
    sources, opaque = _everything(cols, type(est).__name__)
    stem = type(est).__name__.lower()
    return [(f"{stem}{i}", sources, opaque) for i in range(width)]


def _column_transformer(est: Any, cols: list[Col]) -> list[Col] | None:
    indices = getattr(est, "_transformer_to_input_indices", None)
    slices = getattr(est, "output_indices_", {}) or {}
    verbose = getattr(est, "verbose_feature_names_out", True)
    if indices is None:
        return None
    out: list[Col] = []
    for name, trans, _ in est.transformers_:
        span = slices.get(name)
        width = span.stop - span.start if span is not None else None
        if _dropped(trans) or width == 0:
            continue
        part = [cols[i] for i in indices.get(name, [])]
        produced = transform(trans, part, width)
        if produced is None:
            produced = _opaque(trans, part, width)
        if produced is None:
            return None
        out.extend((f"{name}__{n}" if verbose else n, s, o) for n, s, o in produced)
    return out


def _union(est: Any, cols: list[Col], width: int | None) -> list[Col] | None:
    """Each part's outputs side by side; one opaque part's width is what the others leave of ``width``."""
    parts = [(name, trans, transform(trans, cols)) for name, trans in est.transformer_list if not _dropped(trans)]
    unknown = [i for i, (_, _, produced) in enumerate(parts) if produced is None]
    if unknown:
        known = sum(len(produced) for _, _, produced in parts if produced is not None)
        if len(unknown) > 1 or width is None or width < known:
            return None
        name, trans, _ = parts[unknown[0]]
        parts[unknown[0]] = (name, trans, _opaque(trans, cols, width - known))
    return [(f"{name}__{n}", s, o) for name, _, produced in parts for n, s, o in produced]


def _by_names(est: Any, cols: list[Col], width: int | None) -> list[Col] | None:
    getter = getattr(est, "get_feature_names_out", None)
    names = None
    for attempt in ((lambda: getter([c[0] for c in cols])), (lambda: getter())) if getter is not None else ():
        try:
            names = [str(n) for n in attempt()]
            break
        except Exception:  # noqa: BLE001 - FunctionTransformer without feature_names_out, and the like
            continue
    if names is None:
        return _opaque(est, cols, width)
    from modeldb.producers.autolog.lineage import named_source

    by_name = {c[0]: c for c in cols}
    every = _everything(cols, None)
    out = []
    for name in names:
        source = named_source(name, set(by_name))
        _, sources, opaque = by_name[source[0]] if source else (None, *every)
        out.append((name, sources, opaque))
    return out


def consumed(est: Any, cols: list[Col]) -> Used:
    """The top-level input columns ``est`` uses, each with the opaque operators it went through."""
    if _dropped(est):
        return {}
    if _passthrough(est):
        return _used(cols)
    try:
        return _consumed(est, cols)
    except Exception:  # noqa: BLE001 - what cannot be followed uses everything, marked opaque
        return _used(cols, type(est).__name__)


def _used(cols: list[Col], mark: str | None = None) -> Used:
    out: dict[str, set] = {}
    for _, sources, opaque in cols:
        for source in sources:
            out.setdefault(source, set()).update(opaque)
            if mark:
                out[source].add(mark)
    return {k: frozenset(v) for k, v in out.items()}


def _merge(into: dict[str, set], used: Used) -> None:
    for source, opaque in used.items():
        into.setdefault(source, set()).update(opaque)


def _consumed(est: Any, cols: list[Col]) -> Used:  # size: one branch per kind of composite, in one place
    if hasattr(est, "steps"):
        steps = [s for _, s in est.steps if not _passthrough(s)]
        if not any(_narrows(s) for s in steps):  # scalers, encoders, vectorizers and a predictor: all of it
            return _used(cols)
        head = _pipeline(_Steps(est.steps[:-1]), cols, getattr(steps[-1], "n_features_in_", None)) \
            if len(est.steps) > 1 else cols
        return consumed(est.steps[-1][1], head) if head is not None else _used(cols, type(est).__name__)
    if any(hasattr(est, a) for a in ("transformers_", "transformer_list", "get_support")):
        out = transform(est, cols)
        return _used(out) if out is not None else _used(cols, type(est).__name__)
    parts = getattr(est, "estimators_", None)  # before estimator_: an ensemble's template is not fitted
    inner = [getattr(est, a) for a in INNER if getattr(est, a, None) is not None]
    if inner and (parts is None or inner[0] is getattr(est, "best_estimator_", None)):
        return consumed(inner[0], cols)
    if parts is None and hasattr(est, "calibrated_classifiers_"):
        parts = [getattr(c, "estimator", None) for c in est.calibrated_classifiers_]
    if parts is None or getattr(est, "passthrough", False) is True:
        return _used(cols)  # a predictor uses every column it is given
    features = getattr(est, "estimators_features_", None)  # bagging: each estimator's columns
    found: dict[str, set] = {}
    everything = set(_used(cols))
    for i, part in enumerate(_flat(parts)):
        if part is None or _dropped(part):
            continue
        given = [cols[j] for j in features[i]] if features is not None and i < len(features) else cols
        _merge(found, consumed(part, given) if hasattr(part, "get_params") else _used(given))
        if set(found) == everything and not any(found.values()):
            break  # every column used already: the other parts (a forest's trees) cannot add to it
    return {k: frozenset(v) for k, v in found.items()}


def _narrows(est: Any) -> bool:
    """Whether ``est`` may use fewer columns than it is given (a cheap check, before any walk)."""
    if _dropped(est) or any(hasattr(est, a) for a in ("steps", "transformers_", "transformer_list", "get_support",
                                                       "estimators_features_", "best_estimator_")):
        return True
    parts = getattr(est, "estimators_", None)
    if isinstance(parts, (list, tuple)):  # a voting or stacking ensemble of pipelines; a forest's trees are not
        return any(_narrows(p) or not hasattr(p, "get_params") for p in parts[:50])
    inner = [getattr(est, a, None) for a in INNER[1:]]
    return any(i is not None and _narrows(i) for i in inner)


class _Steps:
    """The leading steps of a pipeline, walked as a pipeline of their own."""

    def __init__(self, steps: list) -> None:
        self.steps = steps


def _flat(parts: Any) -> list[Any]:
    out: list[Any] = []
    for part in parts if isinstance(parts, (list, tuple)) else list(getattr(parts, "ravel", lambda: parts)()):
        out.extend(_flat(part) if isinstance(part, (list, tuple)) else [part])
    return out


def model_lineage(est: Any, features: Any) -> list[dict[str, str]] | None:
    """A composite's (source column → feature, path) edges for only the features it uses; an opaque
    operator on the way is marked at the path's end: ``leak > (opaque FunctionTransformer)``.
    None for a model that is not a composite (its lineage is every feature it was fitted on)."""
    if features is None or not is_composite(est):
        return None
    from modeldb.producers.autolog.lineage import model_lineage as edges

    used = consumed(est, columns(list(features.columns)))
    return edges(_UsedFeatures(features, used))


class _UsedFeatures:
    """The ``Featured`` view of a composite's training data, restricted to the columns it uses."""

    def __init__(self, features: Any, used: Used) -> None:
        self._features = features
        self._used = used
        self.columns = [c for c in features.columns if c in used]

    def sources(self, column: str) -> tuple[tuple[str, str], ...]:
        marks = "".join(f" > (opaque {m})" for m in sorted(self._used.get(column, ())))
        return tuple((origin, path + marks) for origin, path in self._features.sources(column))
