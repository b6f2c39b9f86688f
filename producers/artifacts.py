"""The artifact store: fitted models, indexed by model id.

Layout under the store's root (``MODELDB_ARTIFACTS``, by default
``file://$MODELDB_HOME/artifacts``)::

    models/<model_id>/model.pkl     the pickled estimator
    models/<model_id>/meta.json     class, module, format, size
    models/<part_id>/meta.json      for a part of a stored model (a pipeline stage, a search's
                                    winner): which model holds it, and where inside it

A part is not pickled again: ``load_model`` loads its whole and returns the part.

This module knows no framework. A tracker that writes models its own way (Spark ML's
writer, under any Hadoop URI) offers a reader for its formats (``Readers``), and the caller
of ``load_model`` passes it in (``modeldb.load_model`` passes every tracker's), so nothing is
registered at import time.

The path depends only on the model id, so ``load_model(model_id)`` needs no
warehouse lookup. Files are written to a temporary name and renamed, so a
crash never leaves a half-written model under its final name.
"""
from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlparse

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError, TrackingError

PICKLE = "pickle"
PART_FORMAT = "part"
MAX_PART_DEPTH = 16

Reader = Callable[[str, str], Any]  # (store URI, model id) -> the model


@dataclass(frozen=True)
class Readers:
    """A tracker's own model formats and their reader; ``remote``: it also reads non-file stores (hdfs://…)."""
    formats: tuple[str, ...]
    read: Reader
    remote: bool = False


@dataclass(frozen=True)
class StoredModel:
    uri: str
    format: str
    size_bytes: int


class ArtifactStore:
    def __init__(self, uri: str):
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            self.root = Path(unquote(parsed.path if parsed.scheme else uri)).expanduser().absolute()
        else:
            raise ConfigError(
                f"MODELDB_ARTIFACTS {uri!r}: this store keeps models on a local or mounted file system; "
                "use a path or a file:// URI")

    @classmethod
    def from_settings(cls, settings: Settings) -> "ArtifactStore":
        return cls(settings.artifacts)

    def model_dir(self, model_id: str) -> Path:
        if not model_id or any(c in model_id for c in "/\\\x00") or model_id in (".", ".."):
            raise TrackingError(f"{model_id!r} is not a model id")
        return self.root / "models" / model_id

    def put_model(self, model_id: str, model: Any, meta: dict[str, Any]) -> StoredModel:
        data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        folder = self.model_dir(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / "model.pkl", data)
        _write_atomic(folder / "meta.json", json.dumps(
            dict(meta, model_id=model_id, format=PICKLE, size_bytes=len(data)), sort_keys=True).encode())
        return StoredModel((folder / "model.pkl").as_uri(), PICKLE, len(data))

    def part_uri(self, whole_id: str, part_id: str) -> str:
        return f"{(self.model_dir(whole_id) / 'model.pkl').as_uri()}#part={part_id}"

    def put_part(self, part_id: str, whole_id: str, locator: list[list[Any]]) -> None:
        folder = self.model_dir(part_id)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / "meta.json", json.dumps(
            {"model_id": part_id, "format": PART_FORMAT, "stored_in": whole_id, "locator": locator}).encode())

    def load_model(self, model_id: str, readers: Iterable[Readers] = (), _depth: int = 0) -> Any:
        folder = self.model_dir(model_id)
        try:
            return pickle.loads((folder / "model.pkl").read_bytes())
        except FileNotFoundError:
            pass
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (FileNotFoundError, ValueError):
            raise TrackingError(f"no stored model {model_id!r} under {self.root} (MODELDB_ARTIFACTS)") from None
        reader = next((r for r in readers if meta.get("format", "") in r.formats), None)
        if reader is not None:  # written by a tracker's own writer (Spark ML's)
            return reader.read(self.root.as_uri(), model_id)
        if meta.get("format") != PART_FORMAT or _depth >= MAX_PART_DEPTH:
            hint = f" (format {meta.get('format')!r}: read it with modeldb.load_model, which knows every tracker's)" \
                if meta.get("format") not in (PICKLE, PART_FORMAT) else ""
            raise TrackingError(f"model {model_id!r} under {self.root} has no model.pkl{hint}")
        obj = self.load_model(meta["stored_in"], readers, _depth + 1)
        for attribute, index in meta["locator"]:
            obj = getattr(obj, attribute)
            if index is not None:
                obj = obj[index][1]
        return obj


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def load_model(model_id: str, readers: Iterable[Readers] = ()) -> Any:
    """The fitted model stored under ``model_id``: a scikit-learn model unpickled (only load models you
    trust), or a model in a tracker's own format read back by that tracker's ``readers``."""
    from modeldb.producers import tracking

    uri = tracking.settings().artifacts
    if urlparse(uri).scheme not in ("", "file"):  # hdfs://, s3a://…: only a tracker's own writer puts models there
        remote = next((r for r in readers if r.remote), None)
        if remote is None:
            raise ConfigError(f"MODELDB_ARTIFACTS {uri!r} is read only by the tracker that wrote it (Spark ML's)")
        return remote.read(uri, model_id)
    return ArtifactStore(uri).load_model(model_id, readers)
