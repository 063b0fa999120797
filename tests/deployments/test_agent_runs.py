"""The agent-run queue: priority, retry with backoff, cancel, status; local style and
word-count agents; the LLM agent against a local OpenAI-compatible server, paid with AI
credits and refused without them; every finished run committed as a valid file."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from billing.models import CreditEntry
from billing.services.credits import credits_grant
from deployments import draftforge as df
from deployments.models import AgentRun
from deployments.services import agent_runs, repo_sync
from tests.tenancy import api_client

from .gitrepo import SEED_CONFIG, words

pytestmark = pytest.mark.django_db

STORY = (
    "# One\n\nThe dragon slept. The dragon dreamed of gold and the dragon woke. "
    + " ".join(["and then the long road went on"] * 8)
    + ".\n"
)


@pytest.fixture
def manuscript(connected, git_repo):
    git_repo.commit({df.CONFIG: SEED_CONFIG, "chapters/01-one.md": STORY,
                     "manuscript/outline.md": words(4)})  # fmt: skip
    repo_sync.repo_sync_run(repo_id=connected.pk)
    return connected


def _files(git_repo, prefix=df.AGENT_RUNS):
    return {p: git_repo.backend.blob(s) for p, s in git_repo.backend.tree(git_repo.head()).items()
            if p.startswith(prefix)}  # fmt: skip


def test_local_agents_run_and_commit_valid_result_files(manuscript, git_repo, project, world):
    style, _ = agent_runs.agent_run_enqueue(project=project, agent="style", actor=world.member)
    count, _ = agent_runs.agent_run_enqueue(project=project, agent="word_count",
                                            actor=world.member)  # fmt: skip
    assert agent_runs.agent_runs_process() == 2
    style.refresh_from_db()
    count.refresh_from_db()
    assert style.status == count.status == "completed"
    files = _files(git_repo)
    assert set(files) == {style.result_path, count.result_path}
    assert style.result_path.endswith("_style_manual.json")
    for body in files.values():
        df.validate("agent-run", json.loads(body), path="run")
    result = json.loads(files[style.result_path])
    categories = {i["category"] for i in result["issues"]}
    assert {"sentence_length", "repeated_word"} <= categories  # 'dragon' thrice; a long one
    assert "Reading ease" in result["summary"]
    assert json.loads(files[count.result_path])["stats"]["total_words"] == len(
        STORY.split()) + 4  # fmt: skip
    # our own commits: the synced head moved with them, so their push events sync nothing
    assert repo_sync.repo_sync_run(repo_id=manuscript.pk) == "skipped"


def test_priority_orders_the_queue(manuscript, project, world):
    low, _ = agent_runs.agent_run_enqueue(project=project, agent="word_count", priority=-5)
    high, _ = agent_runs.agent_run_enqueue(project=project, agent="word_count", priority=10)
    first = agent_runs._claim()
    assert first.pk == high.pk
    agent_runs._execute(first)
    assert agent_runs._claim().pk == low.pk


def test_a_failing_run_retries_with_backoff_then_fails(manuscript, project, git_repo):
    run, _ = agent_runs.agent_run_enqueue(project=project, agent="style", max_attempts=2)
    real = git_repo.path.rename(git_repo.path.with_name("gone.git"))  # the repository vanishes
    agent_runs.agent_runs_process()
    run.refresh_from_db()
    assert run.status == "queued" and run.attempts == 1 and "No git repository" in run.error
    assert run.run_after > timezone.now() + timedelta(seconds=20)
    assert agent_runs.agent_runs_process() == 0  # not due yet
    AgentRun.objects.filter(pk=run.pk).update(run_after=timezone.now())
    agent_runs.agent_runs_process()
    run.refresh_from_db()
    assert run.status == "failed" and run.attempts == 2
    real.rename(git_repo.path)


def test_cancel_a_queued_run_and_not_a_finished_one(manuscript, project, world):
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/agent-runs/"
    response = api_client(world.member).post(base, {"agent": "word_count", "priority": 3},
                                             format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    cancelled = api_client(world.member).post(f"{base}{run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert agent_runs.agent_runs_process() == 0
    assert api_client(world.member).post(f"{base}{run_id}/cancel/").status_code == 409
    unknown = api_client(world.member).post(base, {"agent": "poet"}, format="json")
    assert unknown.status_code == 400


def test_idempotency_key_returns_the_first_run(manuscript, project, world):
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/agent-runs/"
    client = api_client(world.member)
    first = client.post(base, {"agent": "style"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(base, {"agent": "style"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]


class _Llm(BaseHTTPRequestHandler):
    calls: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Llm.calls.append((self.path, self.headers.get("Authorization"), body))
        answer = {
            "summary": "Found 1 continuity issue",
            "issues": [
                {
                    "severity": "error",
                    "category": "character_consistency",
                    "file": "chapters/01-one.md",
                    "line": 3,
                    "message": "The dragon's eyes changed.",
                }
            ],
        }
        raw = json.dumps(
            {
                "choices": [{"message": {"content": json.dumps(answer)}}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 30},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def llm(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Llm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.AGENT_LLM_API_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.AGENT_LLM_API_KEY = "sk-test"
    _Llm.calls = []
    yield _Llm
    server.shutdown()
    server.server_close()


def test_llm_agent_spends_credits_and_commits_its_result(manuscript, project, git_repo, llm):
    team = project.workspace.team
    credits_grant(team=team, amount=5, idempotency_key="grant-5")
    run, _ = agent_runs.agent_run_enqueue(project=project, agent="continuity", trigger="pr",
                                          trigger_ref="123")  # fmt: skip
    agent_runs.agent_runs_process()
    run.refresh_from_db()
    assert run.status == "completed", run.error
    path, auth, body = llm.calls[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    assert body["model"] == "claude-3-5-sonnet" and "The dragon slept" in body["messages"][1][
        "content"]  # fmt: skip
    assert run.result_path.endswith("_continuity_pr-123.json")
    doc = json.loads(_files(git_repo)[run.result_path])
    assert doc["issues"][0]["message"] == "The dragon's eyes changed."
    assert doc["stats"]["tokens_used"] == 150 and doc["model"] == "claude-3-5-sonnet"
    spent = CreditEntry.objects.filter(team=team, kind="usage").get()
    assert spent.amount == -1 and spent.idempotency_key == f"agent-run:{run.pk}:1"


def test_llm_agent_is_refused_without_credits(manuscript, project, llm):
    run, _ = agent_runs.agent_run_enqueue(project=project, agent="continuity")
    agent_runs.agent_runs_process()
    run.refresh_from_db()
    assert run.status == "failed" and "Out of AI credits" in run.error
    assert llm.calls == []  # no call was made
    assert run.attempts == 1  # and no retry: more attempts would not find credits


def test_commit_triggered_agents_queue_on_sync(connected, git_repo, project):
    sha = git_repo.commit({df.CONFIG: SEED_CONFIG, "chapters/01.md": STORY})
    repo_sync._queue_commit_agents(connected, sha, {"agents": {
        "style": {"enabled": True, "trigger": "commit"},
        "continuity": {"enabled": True, "trigger": "pr", "model": "m"},
        "word_count": {"enabled": False, "trigger": "commit"}}})  # fmt: skip
    runs = list(AgentRun.objects.filter(project=project))
    assert [(r.agent, r.trigger, r.trigger_ref) for r in runs] == [("style", "commit", sha)]
    repo_sync._queue_commit_agents(connected, sha, {"agents": {
        "style": {"enabled": True, "trigger": "commit"}}})  # the same push again  # fmt: skip
    assert AgentRun.objects.filter(project=project).count() == 1


def test_a_pull_request_delivery_queues_the_pr_agents(
    manuscript, project, settings, django_capture_on_commit_callbacks
):
    from .gitrepo import hook_headers, hook_url

    settings.AGENT_LLM_API_URL = "http://127.0.0.1:9/v1"  # configured; not called here
    body = json.dumps({"action": "opened", "number": 123,
                       "pull_request": {"head": {"ref": "draft"}}}).encode()  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client().post(
            hook_url(manuscript),
            body,
            content_type="application/json",
            **hook_headers(manuscript, body, event="pull_request"),
        )
    assert response.status_code == 202
    runs = AgentRun.objects.filter(project=project, trigger="pr")
    assert [(r.agent, r.trigger_ref) for r in runs] == [("continuity", "123")]
