"""MLflow's proxied artifacts, kept in our artifact store under ``mlflow/``.

A run's ``artifact_uri`` is ``mlflow-artifacts:/<experiment id>/<run id>/artifacts``, so the MLflow
client uploads and downloads its files through this server (``mlflow-artifacts`` API): ``PUT`` and
``GET`` of ``/api/2.0/mlflow-artifacts/artifacts/<path>``, and ``GET …/artifacts?path=<dir>`` to
list. Files land under ``<MODELDB_ARTIFACTS>/mlflow/<path>``, written to a temporary name and
renamed; each upload to a run is also an ``ArtifactStored`` event of that run, so ``modeldb sql``
sees it (``SELECT * FROM artifacts``).

A path is checked part by part: no empty part, no ``.`` or ``..``, no backslash or NUL, and the
resolved file must lie under the root. An upload larger than ``MAX_ARTIFACT_BYTES`` is refused.
Multipart uploads (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD``) and deletes are not supported: the
client gets ``NOT_IMPLEMENTED``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from modeldb.server import protocol as p

MAX_ARTIFACT_BYTES = 2 * 1024 ** 3


class Artifacts:
    def __init__(self, root: Path, stored: Callable[[str, str, str, int, str], None]):
        self.root = root / "mlflow"
        self._stored = stored  # (run id, relative path, uri, size, sha256): the ArtifactStored event

    def _path(self, relative: str) -> Path:
        parts = relative.split("/")
        if not relative or any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
            raise p.invalid(f"Invalid artifact path: {relative[:200]!r}")
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise p.invalid(f"Invalid artifact path: {relative[:200]!r}")
        return path

    async def upload(self, relative: str, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        path = self._path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.upload")
        digest, size = hashlib.sha256(), 0
        try:
            with open(temporary, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_ARTIFACT_BYTES:
                        raise p.MlflowError("REQUEST_LIMIT_EXCEEDED",
                                            f"Artifact {relative[:200]!r} is larger than {MAX_ARTIFACT_BYTES} bytes")
                    digest.update(chunk)
                    handle.write(chunk)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        parts = relative.split("/")
        if len(parts) > 3 and parts[2] == "artifacts":  # <experiment>/<run>/artifacts/<file>: a run's
            self._stored(parts[1], "/".join(parts[3:]), path.as_uri(), size, digest.hexdigest())
        return {}

    def file(self, relative: str) -> Path:
        path = self._path(relative)
        if not path.is_file():
            raise p.missing(f"Artifact {relative[:200]!r} does not exist")
        return path

    def listing(self, relative: str) -> dict[str, Any]:
        directory = self._path(relative) if relative else self.root
        if not directory.is_dir():
            return {}
        files = []
        for entry in sorted(directory.iterdir()):
            if entry.name.startswith("."):
                continue
            inside = entry.relative_to(directory).as_posix()
            if entry.is_dir():
                files.append({"path": inside, "is_dir": True})
            else:
                files.append({"path": inside, "is_dir": False, "file_size": entry.stat().st_size})
        return {"files": files} if files else {}
