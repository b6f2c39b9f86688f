"""Run a script of this folder as its own process against a test pipeline, and check the warehouse with it.

The script gets only what a user's environment would hold: ``MODELDB_TRANSPORT`` and
``MODELDB_PROJECT`` (plus ``MODELDB_HOME``, so its models land where this process loads them,
and ``MODELDB_TESTING=1``, so a tracker error fails it). What it did, as the user sees it, comes
back in ``$SCRIPT_FACTS``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modeldb
from tests.integration.conftest import cli_env, project_sql, unique

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 900


@dataclass
class Ran:
    pipeline: Any
    project: str
    facts: dict
    stdout: str
    stderr: str
    returncode: int

    def sql(self, text: str, **params: Any) -> list[tuple]:
        return project_sql(self.pipeline, text, **params)

    def warnings(self) -> list[str]:
        """The tracker's warnings the user saw."""
        return [line for line in self.stderr.splitlines() if "modeldb:" in line]


def run_script(pipeline: Any, name: str, tmp_path: Path, *args: str) -> Ran:
    project = unique(name.replace(".py", ""))
    facts = tmp_path / f"{project}.json"
    env = cli_env(MODELDB_TRANSPORT=pipeline.settings.transport, MODELDB_PROJECT=project,
                  MODELDB_HOME=str(pipeline.settings.home), MODELDB_TESTING="1", PYSPARK_PYTHON=sys.executable,
                  SCRIPT_FACTS=str(facts))
    done = subprocess.run([sys.executable, str(HERE / name), *args], env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=tmp_path)
    pipeline.project = project
    pipeline.init(project)  # this process loads the script's models from the same artifact store
    pipeline.settle()
    return Ran(pipeline, project, json.loads(facts.read_text()) if facts.exists() else {}, done.stdout,
               done.stderr, done.returncode)


def check_references(ran: Ran) -> set[str]:
    """Every dataframe an action, metric, model, fold or prediction row names was recorded; returns them all."""
    frames = {r[0] for r in ran.sql("SELECT dataframe_id FROM {db}.dataframes WHERE project = %(p)s")}
    named = set()
    for ins, outs in ran.sql("SELECT input_dataframe_ids, output_dataframe_ids FROM {db}.actions "
                             "WHERE project = %(p)s"):
        named |= set(ins) | set(outs)
    for query in ("SELECT dataframe_id FROM {db}.metrics WHERE project = %(p)s",
                  "SELECT train_dataframe_id FROM {db}.models WHERE project = %(p)s",
                  "SELECT train_dataframe_id FROM {db}.cv_folds WHERE project = %(p)s",
                  "SELECT test_dataframe_id FROM {db}.cv_folds WHERE project = %(p)s",
                  "SELECT DISTINCT dataframe_id FROM {db}.predictions WHERE project = %(p)s"):
        named |= {r[0] for r in ran.sql(query)}
    named.discard("")
    assert named <= frames, f"named but never recorded: {sorted(named - frames)}"
    return frames


def models(ran: Ran) -> dict[str, dict]:
    rows = ran.sql("SELECT model_id, operator_class, parent_model_id, uri, action_id FROM {db}.models FINAL "
                   "WHERE project = %(p)s")
    notes = {}
    for target, text in ran.sql("SELECT target_id, text FROM {db}.annotations WHERE project = %(p)s"):
        notes.setdefault(target, []).append(text)
    return {r[0]: {"cls": r[1], "parent": r[2], "uri": r[3], "action": r[4], "notes": notes.get(r[0], [])}
            for r in rows}


def check_stored(ran: Ran, found: dict[str, dict]) -> None:
    """A model has files and loads as its class, or has no uri and one note saying why; no part points
    into a whole without files, and no stored part's meta.json names a folder that does not exist."""
    root = Path(ran.pipeline.settings.home) / "artifacts" / "models"
    for model_id, m in found.items():
        meta = root / model_id / "meta.json"
        if m["uri"]:
            assert not m["notes"], m
            assert meta.exists()
            if m["parent"]:
                assert found[m["parent"]]["uri"], f"a part points into a whole without files: {m}"
                assert (root / json.loads(meta.read_text())["stored_in"] / "meta.json").exists()
            assert type(modeldb.load_model(model_id)).__name__ == m["cls"]
        else:
            assert len(m["notes"]) == 1 and m["notes"][0].startswith(("model files not written", "not stored")), m
            assert not meta.exists() or json.loads(meta.read_text()).get("format") != "spark-part"


def same_predictions(model_id: str, data: Any, expected: dict[str, float]) -> None:
    """The stored model predicts what the script's model predicted, row by row."""
    rows = modeldb.load_model(model_id).transform(data).select("id", "prediction").collect()
    got = {str(r["id"]): float(r["prediction"]) for r in rows if str(r["id"]) in expected}
    assert got == expected


def stages_of(ran: Ran, action_id: str) -> list[tuple]:
    return ran.sql("SELECT stage_index, operator_class, action, model_id, action_id FROM {db}.actions "
                   "WHERE project = %(p)s AND parent_action_id = %(a)s ORDER BY seq", a=action_id)
