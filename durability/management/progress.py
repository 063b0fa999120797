"""Progress output for the backup commands: a redrawn bar on a terminal, plain lines otherwise."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


class ProgressPrinter:
    """Callable handed to the services as `progress`; one event per part or file."""

    WIDTH = 24

    def __init__(self, stdout, *, total: int | None = None):
        self.stdout = stdout
        self.tty = hasattr(stdout, "isatty") and stdout.isatty()
        self.total = total
        self.done = 0
        self.rows = 0
        self.bytes = 0

    def __call__(self, event: dict) -> None:
        self.done += 1
        rows, size = event.get("rows") or 0, event.get("bytes") or 0
        self.rows += rows
        self.bytes += size
        detail = f"{event.get('stage', '')}: {event.get('model')}: {rows} rows, {human_bytes(size)}"
        if not self.tty:
            self.stdout.write(detail)
            return
        total = self.total or self.done
        filled = min(self.WIDTH, self.WIDTH * self.done // max(total, 1))
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stdout.write(
            f"\r\033[K[{bar}] {self.rows} rows, {human_bytes(self.bytes)}  {detail}"[:160],
            ending="",
        )
        self.stdout.flush()

    def finish(self) -> None:
        if self.tty and self.done:
            self.stdout.write("")
