"""The wheel installs and runs outside the checkout: every subpackage, schema, DDL file and the dashboard ship.

The wheel is built from this tree and installed, without its dependencies, into a new virtualenv. That
virtualenv borrows the project virtualenv's third-party packages through a ``.pth`` line (so no second
download of pyspark and the rest), but not its editable install of ModelDB: a path added by a ``.pth`` line
does not run that folder's own ``.pth`` hooks. The demo then runs from an empty folder, so nothing can be
found through the checkout.
"""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.integration.conftest import cli_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_runs_the_demo_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                    str(ROOT)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("modeldb_stream-*.whl"))
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--disable-pip-version-check", str(wheel)], check=True, cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import modeldb, modeldb.core, modeldb.cli; "
                            "print(modeldb.__file__, modeldb.core.__file__)"],
                           check=True, capture_output=True, text=True, cwd=work).stdout
    assert str(ROOT) not in where and str(site) in where, where
    demo = subprocess.run([str(target / "bin" / "modeldb"), "demo"], capture_output=True, text=True, cwd=work,
                          env=cli_env(MODELDB_HOME=str(work / ".modeldb")), timeout=900)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    for question in ("1. Which models were built using", "2. Which model performed best", "3. How do"):
        assert question in demo.stdout, demo.stdout[-2000:]
