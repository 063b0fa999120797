"""Append-only JSONL files and their tolerant reader (KPI events, request logs).

A writer never rewrites what is there; a reader skips torn or corrupt lines and counts them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


def json_line(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str) + "\n").encode()


def append_jsonl(path: Path, obj: dict) -> None:
    """Append one JSON object as one line; never rewrites what is there.

    If an earlier writer died mid-line (the file does not end in a newline), a newline is
    written first, so only the torn line is lost, not the event appended after it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json_line(obj)
    with open(path, "a+b") as fh:  # append mode: every write lands at the end
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)
        fh.flush()


@dataclass
class JsonlRead:
    """What a tolerant read found: the parsed objects and how many lines it skipped."""

    rows: list[dict] = field(default_factory=list)
    skipped: int = 0


def read_jsonl(path: Path) -> JsonlRead:
    """Every JSON object in `path`; torn or corrupt lines are skipped and counted."""
    result = JsonlRead()
    try:
        fh = open(path, "rb")  # noqa: SIM115  (closed below; a missing file is an empty read)
    except FileNotFoundError:
        return result
    with fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (UnicodeDecodeError, ValueError):
                result.skipped += 1
                continue
            if not isinstance(obj, dict):
                result.skipped += 1
                continue
            result.rows.append(obj)
    if result.skipped:
        logger.warning("skipped %d unreadable line(s) in %s", result.skipped, path)
    return result
