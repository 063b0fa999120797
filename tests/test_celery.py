"""A real Celery worker runs on the embedded filesystem broker (no server)."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _embedded_env(data_dir: Path) -> dict:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "S3_BUCKET"}
    }
    environment.update(
        HOLDFAST_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="config.settings.test",
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    return environment


def test_worker_runs_a_task_from_the_filesystem_broker(tmp_path):
    data_dir = tmp_path / "data"
    environment = _embedded_env(data_dir)
    celery = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(
        [
            str(celery),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    marker = tmp_path / "pong.txt"
    try:
        sent = subprocess.run(
            [
                sys.executable,
                "-c",
                "from config.celery import app; import django; django.setup(); "
                f"from common.tasks import ping; ping.delay({str(marker)!r})",
            ],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sent.returncode == 0, sent.stderr
        assert list((data_dir / "broker" / "queue").iterdir()) or marker.exists()
        deadline = time.monotonic() + 60  # a loaded CI machine starts Django slowly
        while not marker.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.2)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert marker.exists(), output
    assert marker.read_text().startswith("pong ")
    assert "common.tasks.ping" in output
    # Nothing of the broker leaks into the working directory.
    assert list((data_dir / "broker" / "control").iterdir())
    assert not (ROOT / "control").exists()


def test_beat_starts_on_the_embedded_default(tmp_path):
    data_dir = tmp_path / "data"
    celery = Path(sys.executable).with_name("celery")
    beat = subprocess.Popen(
        [str(celery), "-A", "config", "beat", "--loglevel=INFO", "--max-interval=1"],
        cwd=ROOT,
        env=_embedded_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(data_dir.glob("celerybeat-schedule*")):
            assert beat.poll() is None, beat.stdout.read()
            time.sleep(0.2)
        time.sleep(1)
        assert beat.poll() is None, beat.stdout.read()
    finally:
        beat.terminate()
        output, _ = beat.communicate(timeout=30)
    assert "beat: Starting" in output
    assert list(data_dir.glob("celerybeat-schedule*")), output
