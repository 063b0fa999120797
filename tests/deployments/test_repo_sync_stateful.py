"""A Hypothesis state machine over real pushes: chapter edits, config edits (some invalid),
force pushes back in history, duplicate and out-of-order deliveries. After every step the
cache equals what parsing the repository at its head gives (the last valid config stands
while the file at the head is invalid)."""

import itertools
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from deployments import draftforge as df
from deployments import services
from deployments.models import RepoSyncState
from deployments.services import repo_sync
from tests.factories import ProjectFactory, UserFactory

from .gitrepo import GitRepo, push_body, words

CONFIG = 'version: "1.0"\nproject:\n  name: "N"\n  target_word_count: {target}\n' \
         "github_actions:\n  stats_enabled: true\n"  # fmt: skip
_n = itertools.count()


class RepoSyncMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="hf-sync-"))
        self.git = GitRepo(self.dir / "r.git")
        user = UserFactory()
        self.repo = services.repo_connect(
            project=ProjectFactory(), provider="git", owner="o", name=f"r{next(_n)}",
            clone_url=self.git.url, actor=user,
        )  # fmt: skip
        self.commits = [self.git.commit({df.CONFIG: CONFIG.format(target=1000)})]
        self.expected_settings = None
        self.deliveries: list[tuple[str, bytes]] = []
        self.last_pushed = None
        self._deliver(None, self.commits[0])

    def _deliver(self, before, after, *, delivery_id=None, forced=False):
        body = push_body(before=before, after=after, forced=forced)
        delivery_id = delivery_id or str(uuid.uuid4())
        self.deliveries.append((delivery_id, body))
        self._send(delivery_id, body)

    def _send(self, delivery_id, body):
        from .gitrepo import hook_headers

        raw = hook_headers(self.repo, body, delivery=delivery_id)
        headers = {k[5:].replace("_", "-").title().replace("Github", "GitHub"): v
                   for k, v in raw.items()}  # fmt: skip
        headers["X-Hub-Signature-256"] = raw["HTTP_X_HUB_SIGNATURE_256"]
        delivery, created = repo_sync.hook_receive(repo_id=self.repo.pk, body=body,
                                                   headers=headers)  # fmt: skip
        if created:  # the task the hook queues (on commit, which a test transaction defers)
            repo_sync.repo_sync_run(repo_id=self.repo.pk, delivery_id=delivery.pk)
        config = self.git.backend.read(self.git.head(), df.CONFIG)
        try:
            self.expected_settings = df.parse_yaml(config, path="c", schema_name="config")
        except df.InvalidFile:
            pass  # the previous valid settings stand

    def _push(self, files, *, parent=None):
        before = self.git.head()
        sha = self.git.commit(files, **({"parent": parent} if parent else {}))
        self.commits.append(sha)
        self._deliver(before, sha, forced=parent is not None)

    @rule(chapter=st.integers(0, 3), count=st.integers(0, 30))
    def edit_chapter(self, chapter, count):
        self._push({f"chapters/{chapter:02d}.md": words(count)})

    @rule(chapter=st.integers(0, 3))
    def delete_chapter(self, chapter):
        path = f"chapters/{chapter:02d}.md"
        if self.git.backend.read(self.git.head(), path) is not None:
            self._push({path: None, "notes.txt": str(uuid.uuid4())})

    @rule(goal=st.one_of(st.integers(0, 10**6), st.just("many"), st.just(-5)))
    def edit_config(self, goal):
        self._push({df.CONFIG: CONFIG.format(target=goal)})

    @rule(data=st.data())
    @precondition(lambda self: len(self.commits) > 1)
    def force_push_back(self, data):
        parent = data.draw(st.sampled_from(self.commits[:-1]))
        self._push({"chapters/99.md": words(data.draw(st.integers(1, 5)))}, parent=parent)

    @rule(data=st.data())
    def replay_an_old_delivery(self, data):
        delivery_id, body = data.draw(st.sampled_from(self.deliveries))
        if data.draw(st.booleans()):
            delivery_id = str(uuid.uuid4())  # the same push delivered again under a new id
        self._send(delivery_id, body)

    @invariant()
    def cache_equals_the_repository_at_its_head(self):
        state = RepoSyncState.objects.get(repo=self.repo)
        head = self.git.head()
        assert state.head_sha == head
        assert state.settings == self.expected_settings
        expected, _ = df.compute_stats(self.git.backend, head, config=state.settings)
        assert state.stats == expected

    def teardown(self):
        self.git.backend.close()


@pytest.mark.django_db
def test_repo_sync_state_machine():
    RepoSyncMachine.TestCase.settings = settings(
        max_examples=8,
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    RepoSyncMachine.TestCase().runTest()
