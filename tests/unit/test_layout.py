"""Small rooms: no module over 400 lines and no function over 60 lines, unless a reason is written next to it.

The reason is a comment that starts with ``# size:``. For a module it sits in its first ten lines; for a
function on the line of its ``def`` or on the line just above it (above its decorators, if any).
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def package_files() -> list[Path]:
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    files: set[Path] = set()
    for folder in mapping.values():
        files.update((ROOT / folder).rglob("*.py"))
    return sorted(files)


def _has_reason(lines: list[str], *numbers: int) -> bool:
    return any(0 < n <= len(lines) and "# size:" in lines[n - 1] for n in numbers)


def oversized() -> list[str]:
    found = []
    for path in package_files():
        text = path.read_text()
        lines = text.splitlines()
        name = path.relative_to(ROOT)
        if len(lines) > MAX_MODULE_LINES and not _has_reason(lines, *range(1, 11)):
            found.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if length > MAX_FUNCTION_LINES and not _has_reason(lines, node.lineno, first - 1):
                    found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return found


def test_modules_and_functions_are_small_or_say_why() -> None:
    assert oversized() == []


def test_the_image_copies_every_mapped_folder() -> None:
    """The Dockerfile installs from copied folders: a folder pyproject maps but the image lacks breaks the image."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    assert set(mapping.values()) <= copied, sorted(set(mapping.values()) - copied)
