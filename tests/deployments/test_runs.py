"""Runs and steps: idempotency per (run, step_id), sequentially and under concurrency."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from deployments import services
from deployments.models import Run, RunStatus, RunStep, StepStatus
from tests.factories import ProjectFactory


@pytest.fixture
def run(project, world):
    run, _ = services.run_create(project=project, kind="implement", actor=world.member)
    return run


def test_run_create_is_idempotent_per_key(project, world):
    first, created = services.run_create(
        project=project, kind="research", actor=world.member, idempotency_key="k-1"
    )
    again, created_again = services.run_create(
        project=project, kind="research", actor=world.member, idempotency_key="k-1"
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Run.objects.filter(project=project).count() == 1


def test_run_kind_is_validated(project, world):
    with pytest.raises(services.ValidationFailed):
        services.run_create(project=project, kind="Not A Kind!", actor=world.member)


def test_run_transitions_forward_only(run, world):
    run = services.run_transition(run=run, status=RunStatus.RUNNING, actor=world.member)
    assert run.started_at is not None
    run = services.run_transition(run=run, status=RunStatus.SUCCEEDED, actor=world.member)
    assert run.ended_at is not None
    with pytest.raises(services.IllegalTransition, match="succeeded to running"):
        services.run_transition(run=run, status=RunStatus.RUNNING, actor=world.member)


def test_recording_a_succeeded_step_again_replays_and_writes_nothing(run, world):
    step, replayed = services.step_record(
        run=run,
        step_id="plan",
        name="Plan",
        status=StepStatus.SUCCEEDED,
        actor=world.member,
        input={"goal": "x"},
        output={"plan": ["a", "b"]},
    )
    assert not replayed and step.attempts == 1
    history_rows = step.history.count()
    again, replayed = services.step_record(
        run=run,
        step_id="plan",
        name="Plan",
        status=StepStatus.SUCCEEDED,
        actor=world.member,
        output={"plan": ["something", "else"]},
    )
    assert replayed
    assert again.pk == step.pk
    again.refresh_from_db()
    assert again.output == {"plan": ["a", "b"]}
    assert again.history.count() == history_rows
    assert RunStep.objects.filter(run=run).count() == 1


def test_a_failed_step_may_be_recorded_again_as_a_new_attempt(run, world):
    services.step_record(run=run, step_id="build", status=StepStatus.FAILED, error="boom")
    step, replayed = services.step_record(run=run, step_id="build", status=StepStatus.RUNNING)
    assert not replayed and step.attempts == 2
    step, _ = services.step_record(
        run=run, step_id="build", status=StepStatus.SUCCEEDED, output={"ok": True}
    )
    assert step.attempts == 2 and step.status == StepStatus.SUCCEEDED and step.error == ""


def test_steps_of_an_ended_run_cannot_change_but_still_replay(run, world):
    services.step_record(run=run, step_id="a", status=StepStatus.SUCCEEDED, output={"n": 1})
    services.run_transition(run=run, status=RunStatus.CANCELLED, actor=world.member)
    with pytest.raises(services.Conflict):
        services.step_record(run=run, step_id="b", status=StepStatus.RUNNING)
    step, replayed = services.step_record(run=run, step_id="a", status=StepStatus.SUCCEEDED)
    assert replayed and step.output == {"n": 1}


def test_step_execute_runs_the_action_once(run):
    calls = []

    def action():
        calls.append(1)
        return {"answer": 42}

    step, executed = services.step_execute(run=run, step_id="s1", name="S1", action=action)
    assert executed and step.output == {"answer": 42} and step.status == StepStatus.SUCCEEDED
    step, executed = services.step_execute(run=run, step_id="s1", name="S1", action=action)
    assert not executed and step.output == {"answer": 42}
    assert len(calls) == 1


def test_step_execute_records_a_redacted_failure_and_can_run_again(run):
    def failing():
        raise RuntimeError("connect to postgres://app:hunter22@db:5432/x failed")

    with pytest.raises(RuntimeError):
        services.step_execute(run=run, step_id="s2", name="S2", action=failing)
    step = RunStep.objects.get(run=run, step_id="s2")
    assert step.status == StepStatus.FAILED
    assert "hunter22" not in step.error and "[redacted]" in step.error
    step, executed = services.step_execute(
        run=run, step_id="s2", name="S2", action=lambda: {"ok": 1}
    )
    assert executed and step.attempts == 2 and step.status == StepStatus.SUCCEEDED


def test_step_input_and_output_are_redacted(run):
    step, _ = services.step_record(
        run=run,
        step_id="s3",
        status=StepStatus.SUCCEEDED,
        input={"api_key": "abc123abc123", "prompt": "hello"},
        output={"headers": {"Authorization": "Bearer abcdefghijklmnop"}, "n": 3},
    )
    step.refresh_from_db()
    assert step.input == {"api_key": "[redacted]", "prompt": "hello"}
    assert step.output == {"headers": {"Authorization": "[redacted]"}, "n": 3}


def _threads(n, fn):
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(work, range(n)))


@pytest.mark.django_db(transaction=True)
def test_concurrent_step_execute_runs_the_action_once(postgres_only):
    project = ProjectFactory()
    run, _ = services.run_create(project=project, kind="impl", actor=None)
    calls = []
    lock = threading.Lock()

    def action():
        with lock:
            calls.append(1)
        return {"value": "computed"}

    results = _threads(
        8,
        lambda i: services.step_execute(run=run, step_id="same", name="Same", action=action),
    )
    assert len(calls) == 1
    assert sum(1 for _, executed in results if executed) == 1
    assert {step.pk for step, _ in results} == {RunStep.objects.get(run=run).pk}
    assert all(step.output == {"value": "computed"} for step, _ in results)


@pytest.mark.django_db(transaction=True)
def test_concurrent_step_records_store_one_result(postgres_only):
    project = ProjectFactory()
    run, _ = services.run_create(project=project, kind="impl", actor=None)
    results = _threads(
        8,
        lambda i: services.step_record(
            run=run, step_id="s", status=StepStatus.SUCCEEDED, output={"writer": i}
        ),
    )
    stored = RunStep.objects.get(run=run, step_id="s")
    assert sum(1 for _, replayed in results if not replayed) == 1
    assert all(step.output == stored.output for step, _ in results)
    assert stored.attempts == 1
