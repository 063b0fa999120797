"""Runs one sandbox command: a temporary working folder, a scrubbed environment, a
wall-clock timeout that kills the whole process group, output captured to a file.

This module only executes; `services.sandbox_job_execute` claims the job, calls
`execute()`, redacts the output and records the result.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# Never read more than this much output back from a job (the rest is dropped and noted).
MAX_CAPTURE_BYTES = 32 * 1024 * 1024

# The only variables a job inherits from the worker; nothing else (no DATABASE_URL,
# SECRET_KEY, tokens or cloud credentials) crosses into the sandbox.
INHERITED = ("PATH",)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    timed_out: bool
    duration_seconds: float
    output: str
    output_bytes: int
    capture_truncated: bool


def sandbox_root() -> Path:
    root = Path(settings.SANDBOX_ROOT or tempfile.gettempdir()) / "holdfast-sandbox"
    root.mkdir(parents=True, exist_ok=True)
    return root


def scrubbed_env(extra: dict[str, str], workdir: Path) -> dict[str, str]:
    environment = {name: os.environ[name] for name in INHERITED if name in os.environ}
    environment.setdefault("PATH", os.defpath)
    environment.update(
        HOME=str(workdir),
        TMPDIR=str(workdir / "tmp"),
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        CI="1",
        GIT_TERMINAL_PROMPT="0",
    )
    environment.update(extra)
    return environment


def _limit_child() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def execute(*, command: list[str], env: dict[str, str], timeout: float) -> ExecResult:
    """Run `command` (argv, no shell) and return its exit code and combined output."""
    workdir = Path(tempfile.mkdtemp(prefix="job-", dir=sandbox_root()))
    started = time.monotonic()
    try:
        (workdir / "work").mkdir()
        (workdir / "tmp").mkdir()
        output_path = workdir / "output.log"
        timed_out = False
        with open(output_path, "wb") as output:
            try:
                process = subprocess.Popen(
                    command,
                    cwd=workdir / "work",
                    env=scrubbed_env(env, workdir),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, so a kill takes children too
                    preexec_fn=_limit_child,  # noqa: PLW1509
                )
            except OSError as exc:
                return ExecResult(
                    exit_code=127,
                    timed_out=False,
                    duration_seconds=time.monotonic() - started,
                    output=f"could not start {command[0]!r}: {exc.strerror or exc}\n",
                    output_bytes=0,
                    capture_truncated=False,
                )
            try:
                exit_code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
                exit_code = process.wait()
            _kill_group(process)  # background children the command left behind
        size = output_path.stat().st_size
        with open(output_path, "rb") as fh:
            raw = fh.read(MAX_CAPTURE_BYTES)
        text = raw.decode("utf-8", "replace")
        if size > MAX_CAPTURE_BYTES:
            text += f"\n[output beyond {MAX_CAPTURE_BYTES} bytes was discarded]\n"
        if timed_out:
            text += f"\n[killed: the job exceeded its {timeout:g} s time limit]\n"
        return ExecResult(
            exit_code=exit_code,
            timed_out=timed_out,
            duration_seconds=round(time.monotonic() - started, 3),
            output=text,
            output_bytes=size,
            capture_truncated=size > MAX_CAPTURE_BYTES,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
