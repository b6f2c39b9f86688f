"""The demo's modules: no import circle between its scikit-learn and Spark ML parts."""
from __future__ import annotations

import subprocess
import sys

from modeldb.devtools import demo_project, demo_spark


def test_the_names_the_demo_command_uses():
    assert demo_project.PROJECT == "customer-churn" and demo_project.BAD_COLUMN == "monthly_charges"
    assert callable(demo_project.train) and callable(demo_spark.available)


def test_the_spark_part_of_the_demo_does_not_import_the_sklearn_part():
    code = ("import sys, modeldb.devtools.demo_spark; "
            "assert 'modeldb.devtools.demo_project' not in sys.modules, 'import circle is back'")
    subprocess.run([sys.executable, "-c", code], check=True)
