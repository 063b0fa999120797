"""System checks that enforce the data-class rules (seed 000, DESIGN.md "The data-class registry").

Each rule is a function returning `Violation`s; the Django checks, the admin's
"Data registry" page and `docs/data-classes.md` all use the same functions, so
what `manage.py check` refuses is exactly what the admin shows.

| id             | rule                                                                  |
|----------------|-----------------------------------------------------------------------|
| holdfast.E001  | every model is registered ("if in doubt, critical")                   |
| holdfast.E002  | a critical model has history, or is append-only and immutable         |
| holdfast.E003  | a model's tenant path reaches the workspace, or it is global          |
| holdfast.E004  | a critical model or store is in the backup scope                      |
| holdfast.E005  | a semi-critical file store only appends and has a tolerant reader     |
| holdfast.E006  | an ephemeral model or store has a TTL or a scheduled cleanup job      |
| holdfast.E007  | every `.cache` path literal in the source is a registered store       |
| holdfast.E008  | no critical data lives only in `.cache`, Redis, or local files        |
| holdfast.E009  | an entry declared immutable has its triggers (database check)         |
| holdfast.E010  | a registration names a model that exists                              |
"""

from __future__ import annotations

import ast
import fnmatch
import inspect
import os
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import checks

from common.app_list import collect_beat_schedule

from . import registry
from .registry import GLOBAL, SELF, DataClass, Entry


@dataclass(frozen=True)
class Violation:
    id: str  # "holdfast.E00n"
    key: str  # the entry (or unregistered model / source location) it is about
    message: str
    hint: str = ""

    def as_check(self) -> checks.Error:
        return checks.Error(f"{self.key}: {self.message}", hint=self.hint or None, id=self.id)


RULES: dict[str, str] = {
    "holdfast.E001": "Every model and store is registered with a data class; an unregistered one "
    "is an error (if in doubt, treat it as critical — never silently ephemeral).",
    "holdfast.E002": "A critical model has audited history (django-simple-history), or is "
    "declared append-only and immutable.",
    "holdfast.E003": "A model's tenant path leads to its workspace, or it is declared global.",
    "holdfast.E004": "A critical model or store is in the backup scope: a workspace or the "
    "instance backup carries it (as the backup code's scope says), or `backup_via` says where.",
    "holdfast.E005": "A semi-critical file store is append-only (or replaced atomically as a "
    "whole), its writer can do nothing else, and its reader tolerates a truncated or corrupt "
    "last line.",
    "holdfast.E006": "An ephemeral model or store has a TTL or a cleanup job (a Celery task in "
    "the beat schedule or a management command).",
    "holdfast.E007": "Every `.cache` path in the source is a registered store.",
    "holdfast.E008": "No critical data lives only in `.cache`, Redis or local files: critical "
    "data is in the database or in backed-up object storage.",
    "holdfast.E009": "Every table declared immutable refuses UPDATE and DELETE through database "
    "triggers.",
    "holdfast.E010": "Every registration names a model that exists.",
}


# --- helpers -----------------------------------------------------------------


def storage_kind(entry: Entry) -> str:
    """ "database" | "redis" | "object_storage" | "file", from the declared storage string."""
    storage = entry.storage.lower()
    if entry.kind == "model":
        return "database"
    if "redis" in storage:
        return "redis"
    if storage.startswith(("default storage", "backups storage", "object storage", "s3")):
        return "object_storage"
    return "file"


def beat_task_names() -> set[str]:
    return {job["task"] for job in collect_beat_schedule().values() if "task" in job}


def management_command_names() -> set[str]:
    from django.core.management import get_commands

    return set(get_commands())


COMMAND_MENTION = re.compile(r"(?:manage\.py|django-admin|django|command)\s+`?([\w-]+)")


def cleanup_resolves(cleanup: str | None) -> bool:
    """True when `cleanup` names a beat-scheduled Celery task or a management command.

    A task may be named anywhere in the sentence ("... and deployments.reap_sandbox_jobs");
    a command must be the whole value or follow `manage.py`/`django`/`command`, so that an
    ordinary word that happens to be a command ("check") does not count.
    """
    if not cleanup:
        return False
    words = set(re.findall(r"[\w.:-]+", cleanup))
    if words & beat_task_names():
        return True
    commands = management_command_names()
    mentioned = set(COMMAND_MENTION.findall(cleanup))
    return cleanup.strip() in commands or bool(mentioned & commands)


# --- E001 / E010 ---------------------------------------------------------------


def rule_unregistered() -> list[Violation]:
    return [
        Violation(
            "holdfast.E001",
            model._meta.label,
            "model is not in the data-class registry.",
            hint="Decorate it with @data_class(...) (or register_model() for a third-party "
            "model). If in doubt, it is critical.",
        )
        for model in registry.unregistered_models()
    ]


def rule_stale_registrations() -> list[Violation]:
    out = []
    for key in sorted(registry._models):
        app_label, _, name = key.partition(".")
        try:
            apps.get_model(app_label, name)
        except LookupError:
            out.append(
                Violation(
                    "holdfast.E010",
                    key,
                    "is registered but no such model is installed.",
                    hint="Remove the registration or fix its label.",
                )
            )
    return out


# --- per-entry rules -------------------------------------------------------------


def _is_critical(entry: Entry) -> bool:
    return entry.data_class == DataClass.CRITICAL


def rule_history(entry: Entry) -> list[Violation]:
    if entry.kind != "model" or not _is_critical(entry) or entry.history_of:
        return []
    if entry.append_only and entry.immutable:
        return []
    if registry.has_history(entry.model):
        return []
    return [
        Violation(
            "holdfast.E002",
            entry.key,
            "is critical but has no audited history and is not append-only and immutable.",
            hint="Add `history = HistoricalRecords()` (and an immutable_tables() migration "
            "for its history table), or declare append_only=True, immutable=True with triggers.",
        )
    ]


def rule_tenant(entry: Entry) -> list[Violation]:
    if entry.kind != "model" or entry.tenant == GLOBAL:
        return []
    Workspace = apps.get_model(settings.TENANT_MODEL)
    model = entry.model
    if entry.tenant == SELF:
        ok = model is Workspace
    else:
        ok = registry.resolve_tenant_path(model, entry.tenant) is Workspace
    if ok:
        return []
    return [
        Violation(
            "holdfast.E003",
            entry.key,
            f"tenant path {entry.tenant!r} does not lead to workspaces.Workspace.",
            hint='Give the ORM path to the workspace ("workspace", "project__workspace") '
            "or declare tenant=GLOBAL.",
        )
    ]


def rule_backup(entry: Entry) -> list[Violation]:
    if not _is_critical(entry) or entry.backup_via or registry.backup_carrier(entry):
        return []
    return [
        Violation(
            "holdfast.E004",
            entry.key,
            "is critical but outside the backup scope.",
            hint="Leave backup=True, or say where it is kept instead with backup_via=...",
        )
    ]


def writer_problems(writer, *, atomic_replace: bool) -> list[str]:
    """What a file store's writer does beyond appending (or beyond an atomic replace)."""
    try:
        source = textwrap.dedent(inspect.getsource(writer))
    except (OSError, TypeError):
        return ["its writer's source cannot be read, so it cannot be shown to only append"]
    problems = []
    replaced = False
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if (
            name in ("replace", "rename")
            and isinstance(func, ast.Attribute)
            and (
                getattr(func.value, "id", "") == "os"
                or len(node.args) == 1  # os.replace, Path.replace
            )
        ):
            replaced = True
        elif name in ("open", "fdopen", "NamedTemporaryFile", "mkstemp"):
            if name in ("NamedTemporaryFile", "mkstemp"):
                if not atomic_replace:
                    problems.append(f"it creates temporary files ({name})")
                continue
            # open(path, mode), os.fdopen(fd, mode), io.open(...): mode second; Path.open(mode)
            module_call = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in (
                "os",
                "io",
                "codecs",
            )
            mode = _mode_argument(
                node, position=1 if isinstance(func, ast.Name) or module_call else 0
            )
            if mode is None:
                problems.append("it opens a file with a mode that is not a literal")
            elif "a" in mode and "+" not in mode:
                continue
            elif atomic_replace and ("w" in mode or "x" in mode) and "+" not in mode:
                continue
            elif "r" in mode and "+" not in mode:
                continue  # reading is harmless
            else:
                problems.append(f"it opens a file with mode {mode!r}")
        elif name in ("write_text", "write_bytes", "unlink", "remove") and atomic_replace:
            continue  # writing (or, on failure, discarding) the temp file that replaces the old one
        elif name in ("write_text", "write_bytes", "truncate", "unlink", "remove", "rmtree"):
            problems.append(f"it calls {name}()")
    if atomic_replace and not replaced:
        problems.append("it is declared atomic_replace but never calls os.replace()/os.rename()")
    return problems


def _mode_argument(call: ast.Call, *, position: int) -> str | None:
    for kw in call.keywords:
        if kw.arg == "mode":
            value = kw.value.value if isinstance(kw.value, ast.Constant) else None
            return value if isinstance(value, str) else None
    if len(call.args) > position:
        arg = call.args[position]
        return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    return "r"


def rule_semi_critical_file_store(entry: Entry) -> list[Violation]:
    if entry.kind != "store" or entry.data_class != DataClass.SEMI_CRITICAL:
        return []
    if storage_kind(entry) != "file":
        return []
    problems = []
    if not (entry.append_only or entry.atomic_replace):
        problems.append("it is not declared append_only=True (or atomic_replace=True)")
    if not entry.tolerant_reader:
        problems.append("its reader is not declared tolerant of a torn last line")
    if entry.writer is None:
        problems.append("it names no writer=, so nobody can check it only appends")
    else:
        problems.extend(writer_problems(entry.writer, atomic_replace=entry.atomic_replace))
    if not problems:
        return []
    return [
        Violation(
            "holdfast.E005",
            entry.key,
            "semi-critical file store can lose data: " + "; ".join(problems) + ".",
            hint="Open only with mode 'a'/'ab' (or write a temp file and os.replace() it, "
            "declared atomic_replace=True), and declare tolerant_reader=True.",
        )
    ]


def rule_ephemeral(entry: Entry) -> list[Violation]:
    if entry.data_class != DataClass.EPHEMERAL:
        return []
    if entry.cleanup and not cleanup_resolves(entry.cleanup):
        return [
            Violation(
                "holdfast.E006",
                entry.key,
                f"cleanup {entry.cleanup!r} names no beat-scheduled Celery task or "
                "management command.",
                hint="Name the task (as in a schedule.py BEAT_SCHEDULE) or the command.",
            )
        ]
    if entry.ttl is not None or entry.cleanup:
        return []
    return [
        Violation(
            "holdfast.E006",
            entry.key,
            "is ephemeral but has neither a ttl nor a cleanup job.",
            hint="Declare ttl=<seconds> or cleanup=<beat task or management command>.",
        )
    ]


def rule_critical_storage(entry: Entry) -> list[Violation]:
    if entry.kind != "store" or not _is_critical(entry):
        return []
    kind = storage_kind(entry)
    if kind == "object_storage" and entry.backup:
        return []
    where = {"redis": "Redis", "file": "local files", "object_storage": "unbacked storage"}[kind]
    return [
        Violation(
            "holdfast.E008",
            entry.key,
            f"critical data stored only in {where} ({entry.storage}).",
            hint="Move it into a database table, or into backed-up default storage.",
        )
    ]


ENTRY_RULES = (
    rule_history,
    rule_tenant,
    rule_backup,
    rule_semi_critical_file_store,
    rule_ephemeral,
    rule_critical_storage,
)


def entry_violations(entry: Entry) -> list[Violation]:
    out = []
    for rule in ENTRY_RULES:
        out.extend(rule(entry))
    return out


# --- E007: `.cache` literals in the source -------------------------------------------

SCAN_EXCLUDE = {".venv", "venv", "node_modules", ".git", "data", "tests", "__pycache__", "media"}
CACHE_DIR_NAMES = ("CACHE_DIR",)
PATH_LITERAL = re.compile(r"\.cache/[\w.*{}\-/]+")


def _literal_paths(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, path) for every `.cache/...` path written in a module, placeholders as `*`."""
    found: list[tuple[int, str]] = []

    def piece(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(
                str(v.value) if isinstance(v, ast.Constant) else "*" for v in node.values
            )
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in CACHE_DIR_NAMES:
                return ".cache"
        return None

    def flatten_div(node) -> list:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return flatten_div(node.left) + flatten_div(node.right)
        return [node]

    def joined(parts: list) -> str | None:
        texts = [piece(p) for p in parts]
        for i, text in enumerate(texts):
            if text is not None and (text == ".cache" or text.endswith("/.cache")):
                if any(t is not None and re.search(r"\s", t) for t in texts[i + 1 :]):
                    return None
                rest = [t if t is not None else "*" for t in texts[i + 1 :]]
                return "/".join([".cache", *rest]) if rest else None
        return None

    seen_parts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if id(node) in seen_parts:
                continue
            parts = flatten_div(node)
            for sub in ast.walk(node):
                seen_parts.add(id(sub))
            path = joined(parts)
            if path:
                found.append((node.lineno, path))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("join", "joinpath"):
            path = joined(list(node.args))
            if path:
                found.append((node.lineno, path))
        if isinstance(node, ast.JoinedStr):
            seen_parts.update(id(v) for v in node.values)
        if isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in seen_parts:
            text = piece(node)
            # a path, not prose: no whitespace, and something after ".cache/"
            match = PATH_LITERAL.search(text) if text and not re.search(r"\s", text) else None
            if match:
                found.append((node.lineno, match.group(0)))
    return found


def _store_patterns() -> list[str]:
    patterns = []
    for entry in registry.store_entries():
        storage = entry.storage
        if ".cache/" in storage:
            tail = storage[storage.index(".cache/") :].split()[0]
            patterns.append(re.sub(r"\{[^}]*\}", "*", tail))
    return patterns


def _covered(path: str, patterns: list[str]) -> bool:
    path = re.sub(r"\{[^}]*\}", "*", path).rstrip("/")
    for pattern in patterns:
        if path == pattern or fnmatch.fnmatchcase(path, pattern):
            return True
        # a folder literal that a store pattern lives under (".cache/kpi" for ".cache/kpi/*.jsonl")
        if pattern.startswith(path + "/"):
            return True
    return False


def source_roots() -> list[Path]:
    roots = getattr(settings, "HOLDFAST_SOURCE_ROOTS", None)
    return [Path(r) for r in roots] if roots else [Path(settings.BASE_DIR)]


@cache
def _parse(path: str, mtime: float) -> ast.AST | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (SyntaxError, UnicodeDecodeError, OSError):
        return None


def iter_source_files(root: Path):
    """The project's own .py files: no virtualenv, data folder, tests or hidden folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SCAN_EXCLUDE and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder) / name


def rule_cache_literals() -> list[Violation]:
    patterns = _store_patterns()
    out = []
    for root in source_roots():
        for path in iter_source_files(root):
            tree = _parse(str(path), path.stat().st_mtime)
            if tree is None:
                continue
            for line, literal in _literal_paths(tree):
                if not _covered(literal, patterns):
                    out.append(
                        Violation(
                            "holdfast.E007",
                            f"{path.relative_to(root)}:{line}",
                            f"`{literal}` is a .cache path that no registered store covers.",
                            hint="register_store(name, data_class, storage='.cache/...', ...) "
                            "for it (semi-critical or ephemeral; never critical).",
                        )
                    )
    return out


# --- E009: triggers (needs the database) -------------------------------------------


def rule_immutable_tables(using=None) -> list[Violation]:
    from django.db import DatabaseError
    from django.db import connection as default_connection
    from django.db.migrations.executor import MigrationExecutor

    from .immutability import is_immutable

    conn = using or default_connection
    try:
        executor = MigrationExecutor(conn)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return []  # migrations pending (`migrate` runs this check first): they install triggers
        existing = set(conn.introspection.table_names())
    except DatabaseError:
        return []
    out = []
    for entry in registry.model_entries():
        if not entry.immutable or entry.model._meta.db_table not in existing:
            continue
        table = entry.model._meta.db_table
        try:
            ok = is_immutable(table, using=conn)
        except DatabaseError:
            return []
        if not ok:
            out.append(
                Violation(
                    "holdfast.E009",
                    entry.key,
                    f"is declared immutable but table {table} has no refusing triggers.",
                    hint="Add a migration with governance.immutability.immutable_tables"
                    f"({table!r}).",
                )
            )
    return out


# --- all together -----------------------------------------------------------------


def all_violations(*, include_database: bool = False) -> list[Violation]:
    out = rule_unregistered() + rule_stale_registrations()
    for entry in registry.all_entries():
        out.extend(entry_violations(entry))
    out.extend(rule_cache_literals())
    if include_database:
        out.extend(rule_immutable_tables())
    return out


def data_class_rules(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The registry rules as Django system checks (registered in GovernanceConfig.ready)."""
    return [v.as_check() for v in all_violations()]


def immutable_table_rules(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """E009, run when checks are given databases (`check --database default`, `migrate`)."""
    if not databases:
        return []
    from django.db import connections

    out: list = []
    for alias in databases:
        out.extend(v.as_check() for v in rule_immutable_tables(using=connections[alias]))
    return out
