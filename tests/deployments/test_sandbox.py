"""Sandbox jobs: subprocess in a temporary folder, scrubbed environment, wall-clock timeout,
capped and redacted transcripts, idempotent execution, the reaper, a real worker."""

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from deployments import services, tasks
from deployments.models import SandboxJob, SandboxJobStatus
from tests.factories import ProjectFactory
from tests.tenancy import api_client

PY = sys.executable  # the worker's interpreter (inside the checkout: invisible to jobs)
JOB_PY = "python3"  # the system interpreter a job finds in the sandbox's read-only /usr
ROOT = Path(__file__).resolve().parents[2]


def _job(project, world, code, **kwargs):
    job, _ = services.sandbox_job_create(
        project=project,
        job_type=kwargs.pop("job_type", "verify.test"),
        command=[JOB_PY, "-c", code],
        actor=world.member,
        **kwargs,
    )
    return job


def _run(job):
    job, retry_in = services.sandbox_job_execute(job_id=job.pk)
    assert retry_in is None
    return job


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _with_marker(marker: str) -> list[int]:
    """Live processes whose command line carries `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() and _alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_job_runs_and_records_its_output(project, world):
    job = _run(_job(project, world, "import os; print('hello from', os.getcwd())"))
    assert job.status == SandboxJobStatus.SUCCEEDED and job.exit_code == 0
    assert job.attempts == 1 and job.started_at and job.ended_at
    assert job.transcript.startswith("hello from ")
    assert job.transcript.split("hello from ", 1)[1].strip() == "/job/work"
    assert not list((Path(settings.SANDBOX_ROOT) / "holdfast-sandbox").glob("job-*")), (
        "the sandbox folder is removed after the job"
    )
    assert job.metadata["timed_out"] is False and job.metadata["isolation"] == "bwrap"


def test_a_failing_command_marks_the_job_failed(project, world):
    job = _run(_job(project, world, "import sys; print('bad'); sys.exit(3)"))
    assert job.status == SandboxJobStatus.FAILED and job.exit_code == 3


def test_a_missing_program_fails_cleanly(project, world):
    job, _ = services.sandbox_job_create(
        project=project, job_type="verify.build", command=["no-such-program-xyz"],
        actor=world.member,
    )  # fmt: skip
    job = _run(job)
    assert job.status == SandboxJobStatus.FAILED and job.exit_code == 127
    assert "could not start" in job.transcript


def test_a_job_over_its_timeout_is_killed_with_its_children(project, world, tmp_path):
    # The job's pids are namespaced, so the test finds them from outside by a marker.
    marker = f"holdfast-timeout-{project.pk}"
    code = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen(\n"
        f"    [sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}])\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    started = time.monotonic()
    job = _run(_job(project, world, code, timeout_seconds=1))
    assert time.monotonic() - started < 15
    assert job.status == SandboxJobStatus.FAILED
    assert job.metadata["timed_out"] is True
    assert job.exit_code is not None and job.exit_code < 0
    assert "started" in job.transcript and "time limit" in job.transcript
    deadline = time.monotonic() + 5
    while _with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _with_marker(marker)


def test_the_environment_is_scrubbed_of_secrets(project, world, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app:dbpass123@db:5432/app")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value-123")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.test")
    job = _job(
        project,
        world,
        # PWD (bubblewrap's chdir) is dropped: the redaction takes its name for a password
        "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k != 'PWD'}))",
        env={"NODE_ENV": "test"},
    )
    env = json.loads(_run(job).transcript)
    for name in ("DATABASE_URL", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SECRET_KEY",
                 "DJANGO_SETTINGS_MODULE", "REDIS_URL"):  # fmt: skip
        assert name not in env
    assert env["NODE_ENV"] == "test" and env["CI"] == "1"
    assert env["HOME"] == "/job"


def test_transcripts_are_redacted(project, world):
    # Built at run time so the command itself carries no secret (that would be refused).
    code = (
        "E = chr(61)\n"
        "print('to' + 'ken' + E + 'ghp_' + 'a' * 36)\n"
        "print('DATABASE_URL' + E + 'postgres://app' + chr(58) + 'hunter2pw' + chr(64) + 'db/x')\n"
        "print('Authorization' + chr(58) + ' Bea' + 'rer ' + 'z' * 24)\n"
        "K = 'RSA PRIV' + 'ATE KEY-----'\n"
        "print('-----BEGIN ' + K + '\\nMIIEsecret\\n-----END ' + K)\n"
        "print('all good')\n"
    )
    job = _run(_job(project, world, code))
    assert "ghp_" not in job.transcript
    assert "hunter2pw" not in job.transcript
    assert "z" * 24 not in job.transcript
    assert "MIIEsecret" not in job.transcript
    assert "all good" in job.transcript and "[redacted]" in job.transcript


def test_a_large_transcript_is_capped_with_the_full_text_in_storage(project, world, settings):
    settings.SANDBOX_TRANSCRIPT_LIMIT = 1000
    code = (
        "print('BEGIN')\n"
        "for i in range(5000): print(f'line {i:05d}')\n"
        "print('sec' + 'ret' + chr(61) + 'q' * 20)\n"
        "print('END')\n"
    )
    job = _run(_job(project, world, code))
    assert job.status == SandboxJobStatus.SUCCEEDED
    assert job.transcript_truncated
    assert len(job.transcript) < 1200
    assert job.transcript.startswith("BEGIN") and job.transcript.rstrip().endswith("END")
    full = default_storage.open(job.transcript_path).read()
    assert hashlib.sha256(full).hexdigest() == job.transcript_sha256
    assert len(full) == job.transcript_bytes
    text = full.decode()
    assert "line 02500" in text and "q" * 20 not in text
    assert job.transcript_path.startswith(
        f"workspaces/{project.workspace_id}/projects/{project.pk}/sandbox/{job.pk}/"
    )
    url = (
        f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}"
        f"/sandbox-jobs/{job.pk}/transcript/"
    )
    response = api_client(world.viewer).get(url)
    assert response.status_code == 200 and response.content == full


def test_executing_a_finished_job_again_does_nothing(project, world):
    job = _run(_job(project, world, "print('once')"))
    history = job.history.count()
    again = _run(job)
    assert again.attempts == 1 and again.transcript == job.transcript
    assert again.history.count() == history


def test_a_job_held_by_a_live_worker_is_not_run_twice(project, world):
    job = _job(project, world, "print('x')")
    job.status = SandboxJobStatus.RUNNING
    job.lease_expires_at = timezone.now() + timedelta(seconds=30)
    job.save(update_fields=["status", "lease_expires_at"])
    same, retry_in = services.sandbox_job_execute(job_id=job.pk)
    assert 0 < retry_in <= 31
    assert same.status == SandboxJobStatus.RUNNING and same.attempts == 0


def test_a_job_whose_worker_died_is_claimed_again(project, world):
    job = _job(project, world, "print('second try')")
    job.status = SandboxJobStatus.RUNNING
    job.attempts = 1
    job.lease_expires_at = timezone.now() - timedelta(seconds=1)
    job.save(update_fields=["status", "attempts", "lease_expires_at"])
    job = _run(job)
    assert job.status == SandboxJobStatus.SUCCEEDED and job.attempts == 2


def test_the_reaper_fails_stale_jobs_and_resends_lost_ones(
    project, world, django_capture_on_commit_callbacks, monkeypatch
):
    stale = _job(project, world, "print(1)")
    stale.status = SandboxJobStatus.RUNNING
    stale.lease_expires_at = timezone.now() - timedelta(minutes=1)
    stale.save(update_fields=["status", "lease_expires_at"])
    live = _job(project, world, "print(2)")
    live.status = SandboxJobStatus.RUNNING
    live.lease_expires_at = timezone.now() + timedelta(minutes=5)
    live.save(update_fields=["status", "lease_expires_at"])
    lost = _job(project, world, "print(3)")
    SandboxJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sent = []
    monkeypatch.setattr(tasks.run_sandbox_job, "delay", lambda job_id: sent.append(job_id))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.reap_sandbox_jobs()
    assert outcome == {"failed": 1, "requeued": 1}
    stale.refresh_from_db()
    assert stale.status == SandboxJobStatus.FAILED and stale.metadata["reaped"] is True
    assert SandboxJob.objects.get(pk=live.pk).status == SandboxJobStatus.RUNNING
    assert sent == [str(lost.pk)]


def test_the_task_runs_the_job_and_tolerates_a_missing_one(project, world):
    job = _job(project, world, "print('via task')")
    assert tasks.run_sandbox_job(str(job.pk)) == SandboxJobStatus.SUCCEEDED
    assert tasks.run_sandbox_job("00000000-0000-4000-8000-000000000000") == "missing"
    assert tasks.run_sandbox_job.acks_late is True
    assert tasks.run_sandbox_job.reject_on_worker_lost is True


def test_the_reaper_is_on_the_beat_schedule():
    from config.celery import app

    tasks_scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "deployments.reap_sandbox_jobs" in tasks_scheduled


def test_creating_a_job_enqueues_it_after_commit(project, world, django_capture_on_commit_callbacks,
                                                 monkeypatch):  # fmt: skip
    sent = []
    monkeypatch.setattr(tasks.run_sandbox_job, "delay", lambda job_id: sent.append(job_id))
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(project, world, "print(1)")
    assert sent == [str(job.pk)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"env": {"API_KEY": "x"}}, "env"),
        ({"env": {"URL": "postgres://u:pw@h/db"}}, "env"),
        ({"command": ["curl", "-H", "Authorization: Bearer abcdefghijklmnop"]}, "command"),
        ({"command": []}, "command"),
        ({"timeout_seconds": 10**6}, "timeout_seconds"),
        ({"job_type": "rm.rf"}, "job_type"),
    ],
)
def test_bad_jobs_are_refused(project, world, kwargs, field):
    arguments = {"job_type": "verify.test", "command": [JOB_PY, "-c", "1"], **kwargs}
    with pytest.raises(services.ValidationFailed) as caught:
        services.sandbox_job_create(project=project, actor=world.member, **arguments)
    assert caught.value.field == field
    assert not SandboxJob.objects.exists()


def test_repo_clone_derives_its_command(project, world):
    repo = services.repo_connect(
        project=project, provider="github", owner="acme", name="site", actor=world.member
    )
    job, _ = services.sandbox_job_create(
        project=project, job_type="repo.clone", repo=repo, actor=world.member
    )
    # The worker fetches the remote repository itself; the command only reads the checkout.
    assert job.command == ["git", "-C", "repo", "log", "-1", "--format=%H %s"]


def test_retry_queues_a_new_job(project, world):
    failed = _run(_job(project, world, "raise SystemExit(1)"))
    url = (
        f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}"
        f"/sandbox-jobs/{failed.pk}/retry/"
    )
    response = api_client(world.admin).post(url, {}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["retry_of"] == str(failed.pk)
    assert response.json()["status"] == "queued"
    ok = _run(_job(project, world, "print(1)"))
    url = url.replace(str(failed.pk), str(ok.pk))
    assert api_client(world.admin).post(url, {}, format="json").status_code == 409


def _worker_env(tmp_path) -> dict:
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    environment = dict(os.environ)
    environment.update(
        DATABASE_URL=f"{base}/{connection.settings_dict['NAME']}",
        HOLDFAST_DATA_DIR=str(tmp_path / "worker-data"),
        # searchable by the unprivileged sandbox user (pytest's tmp_path is 0700)
        SANDBOX_ROOT=settings.SANDBOX_ROOT,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    return environment


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_job(postgres_only, tmp_path):
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"):
        pytest.skip("needs DATABASE_URL and REDIS_URL (the PostgreSQL/Redis leg)")
    from tests.factories import UserFactory

    project = ProjectFactory()
    worker = subprocess.Popen(
        [
            str(Path(PY).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],  # fmt: skip
        cwd=ROOT,
        env=_worker_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        job, _ = services.sandbox_job_create(
            project=project,
            job_type="verify.test",
            command=[JOB_PY, "-c", "print('ran on a real worker')"],
            actor=UserFactory(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in (SandboxJobStatus.SUCCEEDED, SandboxJobStatus.FAILED):
                break
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.3)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=20)
    assert job.status == SandboxJobStatus.SUCCEEDED, (job.transcript, job.metadata, output)
    assert "ran on a real worker" in job.transcript
    assert "deployments.run_sandbox_job" in output
