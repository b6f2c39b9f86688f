"""Dead letters: events that could not be decoded or validated, with the reason.

Embedded mode writes JSON lines to ``<home>/deadletter.jsonl``; the Kafka
processor produces to ``<topic>.dlq`` with the reason and the source partition
and offset as headers. Both keep the original bytes, so a fixed processor can
take them back.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any


def letter(data: bytes, reason: str, source: str, partition: int, offset: int) -> dict[str, Any]:
    return {"ts": time.time(), "reason": reason, "source": source, "partition": partition, "offset": offset,
            "size": len(data), "original_b64": base64.b64encode(data).decode()}


class FileDeadLetters:
    def __init__(self, path: Path):
        self.path = Path(path)

    def write(self, letters: list[dict[str, Any]]) -> None:
        if not letters:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(item) + "\n" for item in letters))
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
