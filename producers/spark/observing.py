"""Observing Spark DataFrames: a ``DataFrameObserved`` per source, split side and stage output.

The Spark jobs that describe a frame (count, statistics, fingerprint, sample rows) run
on the tracker's background thread, after the user's own jobs (``Tracker.submit``); the
event is emitted when they are done. A frame derived by a tracked stage or split keeps
its parent's row keys, so a sampled row can be followed through every stage.
"""
from __future__ import annotations

from typing import Any

from modeldb.core.events import uuid7
from modeldb.producers.autolog.bounds import bounded
from modeldb.producers.spark import frames, stages
from modeldb.producers.spark.frames import FrameInfo


class Observing:
    """The data half of the Spark tracker (mixed into ``Tracker``, which holds the state it reads)."""

    def observe(self, df: Any, run: Any, source: str) -> FrameInfo:
        """The FrameInfo of ``df``, a new source frame unless this run produced or saw it already."""
        known = self.frames.get(df)
        if known is not None and known.run_id == run.run_id:
            return known
        columns = frames.schema_columns(df)
        key_column = self.options.key_column if self.options.key_column in dict(columns) else None
        info = FrameInfo(uuid7(), run.run_id, "", [n for n, _ in columns],
                         [n for n, t in columns if t in frames.ATOMIC], key_column,
                         provenance=known.provenance if known else None, slots=frames.vector_slots(df),
                         numeric=[n for n, t in columns if t in frames.NUMERIC])
        self.frames.put(df, info)
        self._submit_observation(df, run, info, source, parent=None, step=None)
        return info

    def derive(self, df: Any, run: Any, parent: FrameInfo, step: tuple, provenance: dict | None,
               source: str, stage: Any = None) -> FrameInfo:
        """A frame made from ``parent`` by a tracked stage or split: same row keys, lineage extended."""
        columns = frames.schema_columns(df)
        names = [n for n, _ in columns]
        root = parent.root
        info = FrameInfo(uuid7(), run.run_id, "", names, root.key_columns, root.key_column,
                         provenance=provenance if provenance is not None else parent.provenance,
                         slots=frames.vector_slots(df), categorical=list(parent.categorical), source=root,
                         numeric=list(root.numeric))
        if not frames.has_key(root, names):  # a stage dropped source columns: rows can no longer be followed
            info.source = None
            info.key_columns, info.key_column = [n for n, t in columns if t in frames.ATOMIC], None
        self.frames.put(df, info)
        self._submit_observation(df, run, info, source, parent=parent, step=step, stage=stage)
        return info

    def _submit_observation(self, df: Any, run: Any, info: FrameInfo, source: str, parent: FrameInfo | None,
                            step: tuple | None, stage: Any = None) -> None:
        """Queue the Spark jobs that describe ``df``; the event is emitted when they are done. If Spark is
        gone by then, the frame is recorded from what the driver knew: its schema (``lost``)."""
        options = self.options
        split = step is not None and step[0] == "randomSplit"
        fold = step is not None and step[0] == "fold"  # a search's fold: no pass over the data for it
        known_columns = frames.schema_columns(df)

        def job() -> None:
            stages.describe(df, f"modeldb: observing {source}")
            columns = frames.schema_columns(df)
            following = options.sample_rows > 0 and frames.has_key(info.root, info.columns) and not fold
            counted: dict[str, Any] = {"n_rows": -1, "content": None, "present": set()}
            stats: dict[str, Any] = {}
            if parent is None:
                if options.count_rows:
                    counted = frames.count_job(df, info)
                if options.column_stats:
                    stats, _ = frames.stats_job(df, columns, info, counted["n_rows"])
                info.n_rows = counted["n_rows"]
            elif split:
                info.n_rows = self._count_split_side(df, info, parent, step, following, counted)
            else:
                info.n_rows = -1 if fold else parent.n_rows  # Spark ML stages keep the rows
            info.fingerprint, method = self._fingerprint(df, info, parent, step, counted, columns)
            if following:
                self._sample(df, info, parent, split, counted["present"], stage)
            for name in info.columns:
                st = stats.get(name)
                if st and dict(columns).get(name) == "string" and (st["distinct_approx"] or 0) <= \
                        frames.CATEGORICAL_MAX_DISTINCT and name not in info.categorical:
                    info.categorical.append(name)
            self._emit_observed(run, info, source, method, columns, stats, df.columns)

        def lost(reason: str) -> None:
            if parent is not None and parent.fingerprint:
                info.fingerprint, method = self._fingerprint(df, info, parent, step, {}, known_columns)
            else:  # nothing read: an id of its own, never taken for the same data as another frame
                info.fingerprint, method = frames.digest("unobserved", info.dataframe_id), "unobserved"
            if info.n_rows < 0 and parent is not None and not split and not fold:
                info.n_rows = parent.n_rows
            info.candidates = info.candidates if info.candidates is not None else []
            self._emit_observed(run, info, source, method, known_columns, {}, [n for n, _ in known_columns])
            if parent is None or split:
                self.losses.add("frame", source, reason)

        self.submit(job, f"observing {source}", lost=lost, spark=df.sparkSession)

    def _emit_observed(self, run: Any, info: FrameInfo, source: str, method: str, columns: list[tuple[str, str]],
                       stats: dict[str, Any], names: list[str]) -> None:
        shown = (info.candidates or [])[:self.options.sample_rows]
        at_source = set(info.root.columns)
        added = [n for n in names if n not in at_source]  # what the stages appended: kept first in the sample
        run.emit_action("DataFrameObserved", bounded("DataFrameObserved", {
            "dataframe_id": info.dataframe_id, "fingerprint": info.fingerprint, "fingerprint_method": method,
            "source": source, "n_rows": info.n_rows, "n_columns": len(columns),
            "columns": [{"name": n, "type": t, "stats": stats.get(n)} for n, t in columns[:frames.MAX_COLUMNS]],
            "sample_keys": [str(k) for k, _ in shown],
            "sample_rows_json": frames.rows_json(names, shown, info.slots, added),
        }))

    def _count_split_side(self, df: Any, info: FrameInfo, parent: FrameInfo, step: tuple, following: bool,
                          counted: dict[str, Any]) -> int:
        """A split side is counted (and its share of the parent's sample found) in one job, when the parent
        has at most ``EXACT_SPLIT_ROWS`` rows; above that its count is estimated from the weights, because
        counting a side means re-running randomSplit's sort over the whole parent."""
        if not self.options.count_rows or parent.n_rows < 0:
            return -1
        if parent.n_rows <= frames.EXACT_SPLIT_ROWS:
            candidates = [k for k, _ in parent.candidates or []] if following else []
            counted.update(frames.count_job(df, info, candidates=candidates))
            return counted["n_rows"]
        weights, index = step[1], step[3]
        info.candidates = []
        return int(round(parent.n_rows * weights[index] / (sum(weights) or 1.0)))

    @staticmethod
    def _fingerprint(df: Any, info: FrameInfo, parent: FrameInfo | None, step: tuple | None, counted: dict,
                     columns: list[tuple[str, str]]) -> tuple[str, str]:
        if parent is not None:  # a FrameInfo in the step (a model's training data) counts by its fingerprint
            resolved = [part.fingerprint if isinstance(part, FrameInfo) else part for part in step or ()]
            return frames.digest(parent.fingerprint, resolved), "derived"
        files = frames.input_file_status(df)
        if files:
            return frames.digest(frames.plan_text(df), files), "files"
        if counted["content"] is not None:
            return frames.digest(columns, counted["content"]), "content"
        return frames.digest(frames.plan_text(df)), "plan"

    def _sample(self, df: Any, info: FrameInfo, parent: FrameInfo | None, split: bool, present: set,
                stage: Any) -> None:
        """The rows this frame shows: a source's smallest keys; a split side's share of them; a stage's
        output computed from its input's sample rows (a tiny local DataFrame), never from the data."""
        spark = df.sparkSession
        if parent is None:
            info.candidates = frames.sample_candidates(df, info, info.n_rows)
        elif split:
            if info.candidates is None:  # counted exactly: the parent's sampled rows that landed here
                info.candidates = [c for c in parent.candidates or [] if c[0] in present]
        elif stage is not None and parent.sample_df is not None:
            out = stage.transform(parent.sample_df)  # this thread's calls are not tracked
            info.candidates = frames.collect_keyed(out, info)
            info.sample_df = frames.small_frame(spark, out.schema, info.candidates) if info.candidates else None
            return
        shown = (info.candidates or [])[:self.options.sample_rows]
        info.sample_df = frames.small_frame(spark, df.schema, shown) if shown else None
