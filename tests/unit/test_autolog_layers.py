"""The trackers share the autolog layer and never load each other (in a fresh interpreter)."""
from __future__ import annotations

import subprocess
import sys

import pytest

LOADED = "import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[:3] in {others}))"


@pytest.mark.parametrize("module, others", [
    ("modeldb.producers.spark.tracker", ["sklearn"]), ("modeldb.spark", ["sklearn"]),
    ("modeldb.producers.sklearn.tracker", ["spark"]), ("modeldb.sklearn", ["spark"]),
    ("modeldb.producers.artifacts", ["sklearn", "spark"]),  # the artifact store knows no framework
])
def test_a_tracker_does_not_import_the_other(module, others):
    others = [["modeldb", "producers", name] for name in others]
    out = subprocess.run([sys.executable, "-c", LOADED.format(module=module, others=others)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
