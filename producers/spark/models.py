"""Fitted Spark models in the artifact store, written by Spark ML's own writer.

The store is ``MODELDB_ARTIFACTS``: a local path, ``file://``, or any URI the
cluster's Hadoop file system reads (``hdfs://``, ``s3a://``, ``abfs://``…).
Layout, the same as the scikit-learn store's::

    models/<model_id>/spark/        model.write().save(...)
    models/<model_id>/meta.json     {"format": "spark-ml", "python_class": ...}
    models/<part_id>/meta.json      {"format": "spark-part", "stored_in": ..., "locator": [...]}

A part (a pipeline stage, a search's best model) is not written again;
loading it loads its whole and picks the part. Files go through Hadoop's
FileSystem API in the driver's JVM, so every store the cluster can write works.
"""
from __future__ import annotations

import importlib
import json
from typing import Any

from modeldb.core.exceptions import TrackingError
from modeldb.producers.artifacts import Readers

SPARK_FORMAT = "spark-ml"
SPARK_PART = "spark-part"
MAX_PART_DEPTH = 16


def _session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


class SparkModelStore:
    def __init__(self, uri: str, spark: Any = None):
        if "://" not in uri:
            from pathlib import Path

            uri = Path(uri).expanduser().absolute().as_uri()
        self.root = uri.rstrip("/")
        self.spark = spark

    def _spark(self) -> Any:
        if self.spark is None:
            self.spark = _session()
        return self.spark

    def _fs(self, path: str) -> tuple[Any, Any]:
        spark = self._spark()
        jvm = spark._jvm
        p = jvm.org.apache.hadoop.fs.Path(path)
        return p.getFileSystem(spark._jsc.hadoopConfiguration()), p

    def folder(self, model_id: str) -> str:
        if not model_id or any(c in model_id for c in "/\\\x00") or model_id in (".", ".."):
            raise TrackingError(f"{model_id!r} is not a model id")
        return f"{self.root}/models/{model_id}"

    def write_text(self, path: str, text: str) -> None:
        fs, p = self._fs(path)
        out = fs.create(p, True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def read_text(self, path: str) -> str | None:
        fs, p = self._fs(path)
        if not fs.exists(p):
            return None
        stream = fs.open(p)
        try:
            return bytes(self._spark()._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
        finally:
            stream.close()

    def put_model(self, model_id: str, model: Any, meta: dict[str, Any]) -> tuple[str, int]:
        """Save with Spark ML's writer; returns (uri, size in bytes)."""
        path = f"{self.folder(model_id)}/spark"
        model.write().overwrite().save(path)
        try:
            fs, p = self._fs(path)
            size = int(fs.getContentSummary(p).getLength())
        except Exception:  # noqa: BLE001 - a store without content summaries
            size = -1
        cls = type(model)
        self.write_text(f"{self.folder(model_id)}/meta.json", json.dumps(dict(
            meta, model_id=model_id, format=SPARK_FORMAT, python_class=f"{cls.__module__}.{cls.__qualname__}",
            size_bytes=size), sort_keys=True))
        return path, size

    def part_uri(self, whole_id: str, part_id: str) -> str:
        return f"{self.folder(whole_id)}/spark#part={part_id}"

    def put_part(self, part_id: str, whole_id: str, locator: list[Any]) -> None:
        self.write_text(f"{self.folder(part_id)}/meta.json", json.dumps(
            {"model_id": part_id, "format": SPARK_PART, "stored_in": whole_id, "locator": locator}))

    def meta(self, model_id: str) -> dict[str, Any] | None:
        text = self.read_text(f"{self.folder(model_id)}/meta.json")
        return json.loads(text) if text else None

    def load_model(self, model_id: str, _depth: int = 0) -> Any:
        meta = self.meta(model_id)
        if meta is None:
            raise TrackingError(f"no stored model {model_id!r} under {self.root} (MODELDB_ARTIFACTS)")
        if meta.get("format") == SPARK_PART and _depth < MAX_PART_DEPTH:
            obj = self.load_model(meta["stored_in"], _depth + 1)
            for attribute, index in meta["locator"]:
                obj = getattr(obj, attribute)
                if index is not None:
                    obj = obj[index]
            return obj
        if meta.get("format") != SPARK_FORMAT:
            raise TrackingError(f"model {model_id!r} under {self.root} is not a Spark model ({meta.get('format')})")
        module, _, name = meta["python_class"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        return cls.load(f"{self.folder(model_id)}/spark")


def read_model(uri: str, model_id: str) -> Any:
    """The artifact store's reader for Spark models (``READERS``)."""
    return SparkModelStore(uri).load_model(model_id)


# modeldb.load_model reads what Spark ML's writer stored, here or under any Hadoop URI.
READERS = Readers((SPARK_FORMAT, SPARK_PART), read_model, remote=True)
