"""Runs one sandbox command inside bubblewrap: new user, PID, IPC, UTS, cgroup and
network namespaces, read-only system directories, a private /proc, a writable job folder
as the only writable place, a scrubbed environment, CPU/memory/process/file-size limits
and a wall-clock timeout that kills the whole sandbox.

What a job can see: `/usr` (and the `/bin`, `/lib*`, `/sbin` links) and a few files of
`/etc` read-only, its own `/job` folder (HOME, cwd `/job/work`, TMPDIR `/tmp` inside it),
a fresh `/proc` showing only its own processes and a minimal `/dev`. It cannot see the
data folder, the project checkout, other jobs' folders or the worker's environment, and
has no network. A remote clone (`Access.fetch`) is fetched first by one fixed `git clone`
in a networked sandbox of its own; the job's command then runs without network. When the worker
runs as root, bubblewrap itself is started as an unprivileged user (`SANDBOX_UID`), so
the process limit applies and even an escape from the namespaces would land as nobody.

If bubblewrap is missing or cannot create its namespaces, `execute` raises
`IsolationUnavailable` with the reason; only `SANDBOX_ISOLATION=none` (an explicit operator
choice) runs jobs as plain subprocesses instead.

This module only executes; `services.sandbox_job_execute` claims the job, calls
`execute()`, redacts the output and records the result.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

# Never read more than this much output back from a job (the rest is dropped and noted).
MAX_CAPTURE_BYTES = 32 * 1024 * 1024

# The only variables a job inherits from the worker when isolation is off; nothing else
# (no DATABASE_URL, SECRET_KEY, tokens or cloud credentials) crosses into the sandbox.
INHERITED = ("PATH",)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
JOB_TMP = "/tmp"  # noqa: S108 - the path inside the sandbox: the job's own tmpfs

# /etc entries a job may read (name resolution, TLS roots, users, alternatives links).
ETC_READABLE = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "mime.types",
    "gitconfig",
)
ETC_NETWORK = ("resolv.conf", "hosts", "host.conf", "gai.conf")


class IsolationUnavailable(RuntimeError):
    """The worker cannot isolate jobs, and the operator has not opted out."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    timed_out: bool
    duration_seconds: float
    output: str
    output_bytes: int
    capture_truncated: bool
    isolation: str = "bwrap"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int
    processes: int
    file_bytes: int

    @classmethod
    def from_settings(cls, timeout: float) -> Limits:
        return cls(
            cpu_seconds=int(settings.SANDBOX_CPU_SECONDS or max(1, int(timeout))),
            memory_bytes=settings.SANDBOX_MEMORY_MB * 1024 * 1024,
            processes=settings.SANDBOX_MAX_PROCESSES,
            file_bytes=settings.SANDBOX_MAX_FILE_MB * 1024 * 1024,
        )


@dataclass(frozen=True)
class Access:
    """What a job may reach beyond its folder: the network, and read-only paths."""

    network: bool = False
    read_only_paths: tuple[str, ...] = field(default_factory=tuple)
    # (url, branch): before the job, a fixed `git clone` of this remote repository into
    # `repo/` runs in a sandbox of its own that has the network. The job's command then
    # runs with no network at all, so only git, talking to the repo host, ever reaches out.
    fetch: tuple[str, str] | None = None
    # curl resolve entries (`host:port:address`) the fetch is pinned to: the addresses the
    # guard judged, so DNS cannot answer differently when git connects.
    pinned: tuple[str, ...] = field(default_factory=tuple)


def fetch_argv(url: str, branch: str, pinned: tuple[str, ...] = ()) -> list[str]:
    """The one networked command: a shallow clone with our fixed options. Only http(s)
    transports, no redirects (a redirect could point anywhere), no hooks, no submodules,
    and the host pinned to the addresses checked (`Access.pinned`)."""
    pins = [arg for pin in pinned for arg in ("-c", f"http.curloptResolve={pin}")]
    return [
        "git",
        *pins,
        "-c", "protocol.allow=never",
        "-c", "protocol.https.allow=always",
        "-c", "protocol.http.allow=always",
        "-c", "http.followRedirects=false",
        "-c", "core.hooksPath=/dev/null",
        "clone", "--quiet", "--depth", "1", "--single-branch", "--no-recurse-submodules",
        "--branch", branch, "--", url, "repo",
    ]  # fmt: skip


def sandbox_root() -> Path:
    """Job folders live here. Searchable but not listable by others (0711): bubblewrap,
    started as SANDBOX_UID, must reach a job's folder, and every folder above it must be
    searchable by that user too."""
    root = Path(settings.SANDBOX_ROOT or tempfile.gettempdir()) / "holdfast-sandbox"
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        root.chmod(0o711)
    return root


def isolation_mode() -> str:
    mode = (settings.SANDBOX_ISOLATION or "bwrap").strip().lower()
    if mode not in ("bwrap", "none"):
        raise IsolationUnavailable(
            f"SANDBOX_ISOLATION={mode!r} is not a known mode; use 'bwrap' (the default) or "
            "'none' (run jobs unisolated, only on a worker that runs nothing else)."
        )
    return mode


def _sandbox_ids() -> tuple[int, int] | None:
    """The uid/gid bubblewrap runs as when the worker is root (None: keep the worker's)."""
    if os.geteuid() != 0:
        return None
    return settings.SANDBOX_UID, settings.SANDBOX_UID


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _etc_binds(network: bool) -> list[str]:
    args = []
    for name in ETC_READABLE + (ETC_NETWORK if network else ()):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def bwrap_argv(*, bwrap: str, box_fd: int, access: Access, extra_fds: dict[str, int]) -> list[str]:
    """The bubblewrap command line (without the job's own argv)."""
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *([] if access.network else ["--unshare-net"]),
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        *_system_binds(),
        *_etc_binds(access.network),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--bind-fd",
        str(box_fd),
        "/job",
        "--size",
        str(settings.SANDBOX_TMP_MB * 1024 * 1024),
        "--tmpfs",
        JOB_TMP,
    ]
    for path, fd in extra_fds.items():
        argv += ["--ro-bind-fd", str(fd), path]
    if os.geteuid() == 0 and _sandbox_ids() is None:
        argv += ["--cap-drop", "ALL"]
    # Last: the root (and the /etc built on it) becomes read-only; /job and /tmp stay writable.
    return argv + ["--remount-ro", "/", "--chdir", "/job/work", "--"]


def _limit_child(limits: Limits):
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str | None, uid: int | None) -> str:
    """ "" when bubblewrap can build a sandbox here, else why not (cached per process)."""
    if not bwrap:
        return (
            "bubblewrap (bwrap) is not installed on this worker; install Debian's "
            "'bubblewrap' package, or set SANDBOX_ISOLATION=none to run jobs unisolated."
        )
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=sandbox_root()))
    probe.chmod(0o711)
    try:
        (probe / "work").mkdir()
        if uid is not None:
            for path in (probe, probe / "work"):
                os.chown(path, uid, uid)
        fd = os.open(probe, os.O_RDONLY | os.O_DIRECTORY)
        try:
            argv = bwrap_argv(bwrap=bwrap, box_fd=fd, access=Access(), extra_fds={})
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [*argv, "true"],
                capture_output=True,
                text=True,
                timeout=20,
                pass_fds=(fd,),
                user=uid,
                group=uid,
                extra_groups=[] if uid is not None else None,
                env={"PATH": SANDBOX_PATH},
            )
        finally:
            os.close(fd)
        if done.returncode != 0:
            return (
                f"bubblewrap cannot create a sandbox on this worker ({done.stderr.strip()}); "
                "enable unprivileged user namespaces and make every folder above "
                f"{sandbox_root()} searchable by uid {uid}, or set SANDBOX_ISOLATION=none "
                "to run jobs unisolated."
            )
        return ""
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap could not be started ({exc}); set SANDBOX_ISOLATION=none to opt out."
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def isolation_problem() -> str:
    """ "" when jobs can run here as configured, else the reason the worker refuses them."""
    try:
        if isolation_mode() == "none":
            return ""
    except IsolationUnavailable as exc:
        return str(exc)
    ids = _sandbox_ids()
    return _probe(shutil.which("bwrap"), ids[0] if ids else None)


def scrubbed_env(extra: dict[str, str], workdir: Path, *, isolated: bool) -> dict[str, str]:
    if isolated:
        environment = {"PATH": SANDBOX_PATH, "HOME": "/job", "TMPDIR": JOB_TMP}
    else:
        environment = {name: os.environ[name] for name in INHERITED if name in os.environ}
        environment.setdefault("PATH", os.defpath)
        environment.update(HOME=str(workdir), TMPDIR=str(workdir / "tmp"))
    environment.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", CI="1", GIT_TERMINAL_PROMPT="0")
    environment.update(extra)
    return environment


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _failed_start(command: list[str], exc: OSError, started: float, mode: str) -> ExecResult:
    return ExecResult(
        exit_code=127,
        timed_out=False,
        duration_seconds=time.monotonic() - started,
        output=f"could not start {command[0]!r}: {exc.strerror or exc}\n",
        output_bytes=0,
        capture_truncated=False,
        isolation=mode,
    )


def execute(
    *, command: list[str], env: dict[str, str], timeout: float, access: Access | None = None
) -> ExecResult:
    """Run `command` (argv, no shell) in the sandbox; its exit code and combined output.
    Raises IsolationUnavailable when the sandbox cannot be built (see the module doc)."""
    access = access or Access()
    problem = isolation_problem()
    if problem:
        raise IsolationUnavailable(problem)
    mode = isolation_mode()
    isolated = mode == "bwrap"
    limits = Limits.from_settings(timeout)
    workdir = Path(tempfile.mkdtemp(prefix="job-", dir=sandbox_root()))
    workdir.chmod(0o711)  # the worker's output log beside the box stays unreadable to jobs
    box = workdir / "box"  # the only folder the job sees (as /job) and may write
    started = time.monotonic()
    fds: list[int] = []
    try:
        for path in (box, box / "work", box / "tmp"):
            path.mkdir()
        ids = _sandbox_ids() if isolated else None
        if ids is not None:
            for path in (box, box / "work", box / "tmp"):
                os.chown(path, *ids)
        if isolated:
            (box / "tmp").rmdir()  # inside, /tmp is the job's own size-capped tmpfs
        output_path = workdir / "output.log"  # written by the worker, outside the box
        argv = list(command)
        extra: dict[str, int] = {}
        box_fd = -1
        if isolated:
            box_fd = os.open(box, os.O_RDONLY | os.O_DIRECTORY)
            fds.append(box_fd)
            for path in access.read_only_paths:
                fd = os.open(path, os.O_RDONLY | os.O_PATH)
                fds.append(fd)
                extra[path] = fd
            prefix = bwrap_argv(
                bwrap=shutil.which("bwrap") or "bwrap", box_fd=box_fd, access=access,
                extra_fds=extra,
            )  # fmt: skip
            argv = prefix + argv

        def spawn(run_argv: list[str], log, seconds: float) -> tuple[int | None, bool]:
            """Run one command to its end or its deadline (OSError if it cannot start)."""
            process = subprocess.Popen(  # noqa: S603 - argv, no shell
                run_argv,
                cwd=box / "work",
                env=scrubbed_env(env, box, isolated=isolated),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a kill takes children too
                preexec_fn=_limit_child(limits),  # noqa: PLW1509
                pass_fds=tuple(fds),
                user=ids[0] if ids else None,
                group=ids[1] if ids else None,
                extra_groups=[] if ids else None,
            )
            try:
                code = process.wait(timeout=seconds)
                late = False
            except subprocess.TimeoutExpired:
                late = True
                _kill_group(process)
                code = process.wait()
            _kill_group(process)  # background children the command left behind
            return code, late

        timed_out = False
        exit_code: int | None = None
        with open(output_path, "wb") as output:
            try:
                if access.fetch is not None:
                    fetch = fetch_argv(*access.fetch, pinned=access.pinned)
                    if isolated:
                        networked = Access(network=True, read_only_paths=access.read_only_paths)
                        fetch = bwrap_argv(
                            bwrap=shutil.which("bwrap") or "bwrap", box_fd=box_fd,
                            access=networked, extra_fds=extra,
                        ) + fetch  # fmt: skip
                    output.write(f"$ git clone --depth 1 {access.fetch[0]} repo\n".encode())
                    output.flush()
                    exit_code, timed_out = spawn(fetch, output, timeout)
                    if exit_code != 0 or timed_out:
                        output.write(b"[the clone failed; the job's command did not run]\n")
                        argv = []
                if argv:
                    exit_code, timed_out = spawn(
                        argv, output, max(1.0, timeout - (time.monotonic() - started))
                    )
            except OSError as exc:
                return _failed_start(command, exc, started, mode)
        size = output_path.stat().st_size
        with open(output_path, "rb") as fh:
            raw = fh.read(MAX_CAPTURE_BYTES)
        text = raw.decode("utf-8", "replace")
        if isolated and exit_code == 1 and text.startswith("bwrap: execvp "):
            # bubblewrap could not exec the program: the same answer as without isolation
            exit_code = 127
            text = f"could not start {command[0]!r}: {text.split(': ', 2)[-1]}"
        if size > MAX_CAPTURE_BYTES:
            text += f"\n[output beyond {MAX_CAPTURE_BYTES} bytes was discarded]\n"
        if timed_out:
            text += f"\n[killed: the job exceeded its {timeout:g} s time limit]\n"
        elif exit_code is not None and exit_code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            text += f"\n[killed: the job used its {limits.cpu_seconds} s of CPU time]\n"
        return ExecResult(
            exit_code=exit_code,
            timed_out=timed_out,
            duration_seconds=round(time.monotonic() - started, 3),
            output=text,
            output_bytes=size,
            capture_truncated=size > MAX_CAPTURE_BYTES,
            isolation=mode,
        )
    finally:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
