"""The DraftForge repository layout (seed 001): paths, JSON Schemas, parsing and stats.

The author's repository is the source of truth. This module knows its files —
`.draftforge/config.yml`, `.draftforge/stats.json`, `.draftforge/agent-runs/*.json`,
`manuscript/metadata.yml`, and the Markdown under `chapters/` and `manuscript/` — validates
every one of them against the JSON Schemas shipped in `deployments/schemas/` (Draft 2020-12),
round-trips YAML with ruamel.yaml (comments and key order survive a settings change), and
computes `stats.json` from the commit log. It reads through a `deployments.git` backend and
never touches the database, so `manage.py draftforge_stats` can run it in a CI job.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

CONFIG = ".draftforge/config.yml"
STATS = ".draftforge/stats.json"
METADATA = "manuscript/metadata.yml"
AGENT_RUNS = ".draftforge/agent-runs/"
SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMAS = {
    "stats": "stats.json",
    "agent-run": "agent-run.json",
    "config": "config.json",
    "metadata": "metadata.json",
}
TEXT_SUFFIXES = (".md", ".markdown", ".txt")


class InvalidFile(Exception):
    """A repository file does not parse or does not match its schema."""

    def __init__(self, path: str, pointer: str, message: str):
        super().__init__(f"{path}{'#' + pointer if pointer else ''}: {message}")
        self.path, self.pointer, self.message = path, pointer, message

    def as_dict(self) -> dict:
        return {"path": self.path, "pointer": self.pointer, "message": self.message}


# --- schemas ------------------------------------------------------------------------------


@cache
def schema(name: str) -> dict:
    if name not in SCHEMAS:
        raise KeyError(name)
    return json.loads((SCHEMA_DIR / SCHEMAS[name]).read_text())


@cache
def _validator(name: str) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema(name))
    return Draft202012Validator(schema(name))


def _pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validate(name: str, document, *, path: str) -> None:
    """Raise InvalidFile naming `path` and the JSON pointer of the most relevant error."""
    error = best_match(_validator(name).iter_errors(document))
    if error is not None:
        raise InvalidFile(path, _pointer(error.absolute_path), error.message)


# --- parsing ------------------------------------------------------------------------------


def _yaml(typ: str = "rt") -> YAML:
    y = YAML(typ=typ)
    y.preserve_quotes = True
    y.width = 4096
    return y


def _plain(value):
    """ruamel's commented containers and timestamps as plain JSON values."""
    return json.loads(json.dumps(value, default=str))


def parse_yaml(data: bytes, *, path: str, schema_name: str) -> dict:
    try:
        doc = _yaml("safe").load(data.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise InvalidFile(path, "", f"not valid YAML: {str(exc).splitlines()[0]}")
    doc = {} if doc is None else _plain(doc)
    validate(schema_name, doc, path=path)
    return doc


def parse_json(data: bytes, *, path: str, schema_name: str) -> dict:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidFile(path, "", f"not valid JSON: {exc}")
    validate(schema_name, doc, path=path)
    return doc


def dump_json(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def yaml_update(original: bytes | None, changes: dict) -> bytes:
    """Apply `changes` (nested dict; None deletes a key) to a YAML document, keeping its
    comments, key order and quoting (ruamel.yaml round trip)."""
    y = _yaml("rt")
    doc = None
    if original:
        text = original.decode("utf-8")
        _, indent, dash = load_yaml_guess_indent(text)
        if indent:  # keep the author's indentation of lists (ruamel's documented recipe)
            y.indent(mapping=dash or 2, sequence=indent, offset=dash or 0)
        doc = y.load(text)
    if doc is None:
        doc = CommentedMap()

    def merge(target, patch):
        for key, value in patch.items():
            if value is None:
                target.pop(key, None)
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    merge(doc, changes)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue().encode("utf-8")


def leaf_paths(patch: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for key, value in patch.items():
        if isinstance(value, dict) and value:
            out.extend(leaf_paths(value, (*prefix, key)))
        else:
            out.append((*prefix, key))
    return out


_MISSING = object()


def get_path(doc, path: tuple):
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return _MISSING
        doc = doc[key]
    return doc


def drop_path(patch: dict, path: tuple) -> None:
    node = patch
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)


def merged(doc: dict, changes: dict) -> dict:
    out = json.loads(json.dumps(doc))
    for path in leaf_paths(changes):
        value = get_path(changes, path)
        node = out
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return out


# --- stats -----------------------------------------------------------------------------------


def directories(config: dict) -> tuple[str, str]:
    structure = (config or {}).get("structure") or {}
    chapters = str(structure.get("chapters_directory") or "chapters").strip("/")
    manuscript = str(structure.get("manuscript_directory") or "manuscript").strip("/")
    return chapters, manuscript


def text_kind(path: str, dirs: tuple[str, str]) -> str | None:
    """ "chapters" / "manuscript" for the Markdown files whose words count, else None."""
    if not path.lower().endswith(TEXT_SUFFIXES):
        return None
    if path.startswith(dirs[0] + "/"):
        return "chapters"
    if path.startswith(dirs[1] + "/"):
        return "manuscript"
    return None


def touches_sync_paths(paths, dirs: tuple[str, str]) -> bool:
    prefixes = (".draftforge/", dirs[0] + "/", dirs[1] + "/", "chapters/", "manuscript/")
    return any(p.startswith(prefixes) for p in paths)


def count_text(data: bytes) -> tuple[int, int]:
    """Words as `wc -w` counts them (runs of non-space) and characters."""
    text = data.decode("utf-8", "replace")
    return len(text.split()), len(text)


_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def title_of(path: str, data: bytes) -> str:
    match = _HEADING.search(data[:4096].decode("utf-8", "replace"))
    if match:
        return match.group(1)
    stem = Path(path).stem
    stem = re.sub(r"^\d+[-_ .]*", "", stem)
    return stem.replace("-", " ").replace("_", " ").strip().title() or Path(path).stem


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local_date(ts: int, offset: int) -> str:
    return datetime.fromtimestamp(ts, timezone(timedelta(seconds=offset))).date().isoformat()


def _streaks(days: list[str], as_of: str | None) -> dict:
    if not days:
        return {
            "current_days": 0,
            "longest_days": 0,
            "last_write_date": None,
            "total_writing_days": 0,
        }
    parsed = [date.fromisoformat(d) for d in sorted(set(days))]
    longest = run = 1
    for prev, cur in zip(parsed, parsed[1:], strict=False):
        run = run + 1 if (cur - prev).days == 1 else 1
        longest = max(longest, run)
    current = 1
    for prev, cur in zip(reversed(parsed[:-1]), reversed(parsed[1:]), strict=False):
        if (cur - prev).days != 1:
            break
        current += 1
    reference = date.fromisoformat(as_of) if as_of else parsed[-1]
    if (reference - parsed[-1]).days > 1:
        current = 0
    return {
        "current_days": current,
        "longest_days": longest,
        "last_write_date": parsed[-1].isoformat(),
        "total_writing_days": len(parsed),
    }


def compute_stats(
    backend, head: str, *, config: dict | None = None, previous: dict | None = None
) -> tuple[dict, dict]:
    """Seed 001's stats.json for the repository at `head`, and the working state that lets the
    next call be incremental (`previous`: counts per file by blob sha, per-day history).

    History walks the first-parent log; each commit's word count comes from the files its
    diff touched, so a push of one chapter costs one diff and one count."""
    dirs = directories(config or {})
    state = previous if previous and previous.get("dirs") == list(dirs) else None
    log: list = []
    if state:
        # New commits since the last computed head, if it is a first-parent ancestor.
        log = backend.log(head, stop=state["head"])
        oldest = log[-1] if log else None
        if oldest is not None and (not oldest.parents or oldest.parents[0] != state["head"]):
            state, log = None, []  # the last computed head is not an ancestor: start over
    if state is None:
        log = backend.log(head)
        state = {"head": None, "dirs": list(dirs), "files": {}, "days": [], "modified": {}}
        state["last"] = None
    log.reverse()  # oldest first
    files: dict = {k: list(v) for k, v in state["files"].items()}  # path → [blob, words, chars]
    modified: dict = dict(state["modified"])
    days: list = [dict(d) for d in state["days"]]
    if days and log and _local_date(log[0].time, log[0].tz_offset) < days[-1]["date"]:
        # A commit dated before the last history day (rewritten history): start over.
        return compute_stats(backend, head, config=config, previous=None)
    prev_sha = state["head"]
    last = state.get("last")  # [sha, time, tz] of the last commit that changed the text
    counts: dict[tuple[str, str], tuple] = {}
    for info in log:
        touched = False
        for change in backend.diff(prev_sha, info.sha):
            kind = text_kind(change.path, dirs)
            if kind is None:
                continue
            touched = True
            if change.kind == "delete":
                files.pop(change.path, None)
                modified.pop(change.path, None)
                continue
            blob = change.sha
            key = (blob, change.path)  # the title may come from the path
            if key not in counts:
                data = backend.blob(blob)
                counts[key] = (*count_text(data), title_of(change.path, data))
            files[change.path] = [blob, *counts[key]]  # [blob, words, chars, title]
            modified[change.path] = _iso(info.time)
        prev_sha = info.sha
        if not touched:
            continue
        last = [info.sha, info.time, info.tz_offset]
        day = _local_date(info.time, info.tz_offset)
        total = sum(v[1] for v in files.values())
        chapters = sum(1 for p in files if text_kind(p, dirs) == "chapters")
        if days and days[-1]["date"] == day:
            entry = days[-1]
            before = days[-2]["word_count"] if len(days) > 1 else 0
            entry.update(
                word_count=total,
                chapter_count=chapters,
                commits=entry["commits"] + 1,
                words_written=total - before,
                commit_sha=info.sha,
            )
        else:
            before = days[-1]["word_count"] if days else 0
            days.append(
                {
                    "date": day,
                    "word_count": total,
                    "chapter_count": chapters,
                    "commits": 1,
                    "words_written": total - before,
                    "commit_sha": info.sha,
                }
            )
    # Stats are as of the last commit that changed the text, so a commit that touches
    # nothing counted (config, Holdfast's own stats.json) leaves them byte-for-byte equal.
    state = {"head": head, "dirs": list(dirs), "files": files, "days": days, "modified": modified}
    state["last"] = last
    titles_needed = sorted(files)
    breakdown: dict = {"chapters": [], "manuscript": []}
    for path in titles_needed:
        blob, words, chars = files[path][:3]
        kind = text_kind(path, dirs)
        item = {
            "file": path,
            "word_count": words,
            "character_count": chars,
            "last_modified": modified.get(path),
        }
        if kind == "chapters":
            title = files[path][3] if len(files[path]) > 3 else title_of(path, backend.blob(blob))
            item = {"file": path, "title": title, **item}
        breakdown[kind].append(item)
    project = (config or {}).get("project") or {}
    stats = {
        "version": "1.0.0",
        "project": {k: project[k] for k in ("name", "type", "target_word_count") if k in project},
        "current": {
            "word_count": sum(v[1] for v in files.values()),
            "chapter_count": len(breakdown["chapters"]),
            "character_count": sum(v[2] for v in files.values()),
            "last_updated": _iso(last[1]) if last else None,
            "last_commit_sha": last[0] if last else None,
        },
        "breakdown": breakdown,
        "history": list(reversed(days)),  # newest first, as in the seed's example
        "streaks": _streaks([d["date"] for d in days], None),
        "generated_by": "holdfast",
    }
    if last:
        stats["generated_at"] = _iso(last[1])
    return stats, state  # validated where it is written (sync write-back, the CI command)
