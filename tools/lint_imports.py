"""Check the import contract (pyproject's ``[tool.importlinter]``) on the source tree: ``make lint``.

The folders of this repository become subpackages of ``modeldb`` through pyproject's ``package-dir``
(``core/`` is ``modeldb.core``). An editable install resolves that mapping at import time, but
import-linter reads the package from the disk, where ``modeldb/`` holds only the facade. So this
lays the package out as it is installed, as a tree of symbolic links in a temporary folder, and runs
``lint-imports`` on it. Exit status and output are lint-imports' own.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def link_tree(into: Path) -> None:
    """Lay out every mapped folder under ``into`` at its package path, deepest mapping last."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        target = into.joinpath(*package.split("."))
        source = ROOT / folder
        if package.count(".") == 0:
            target.mkdir(parents=True)
            for entry in source.iterdir():
                if entry.suffix == ".py":
                    (target / entry.name).symlink_to(entry)
        else:
            target.symlink_to(source, target_is_directory=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="modeldb-lint-") as tmp:
        link_tree(Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        lint = Path(sys.executable).with_name("lint-imports")
        return subprocess.call([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
