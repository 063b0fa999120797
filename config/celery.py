"""The Celery app. Settings come from Django (CELERY_*); tasks from each app's tasks.py.

Periodic jobs: each app may have a `schedule.py` with a `BEAT_SCHEDULE` dict
(no model imports there); they are merged into beat's schedule here, so adding
a job never means editing settings.

Every task runs through `HoldfastTask`, which refuses to start while the database's
schema version is newer than this code's (seed 004: never write to a newer version),
so a worker left on old code after an upgrade cannot write either.
"""

from celery import Celery, Task

from common.app_list import collect_beat_schedule
from config.env import configure

configure()


class HoldfastTask(Task):
    def __call__(self, *args, **kwargs):
        from durability.versions import check_writable

        check_writable()
        return super().__call__(*args, **kwargs)


app = Celery("holdfast", task_cls=HoldfastTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


app.conf.beat_schedule = {**collect_beat_schedule(), **(app.conf.beat_schedule or {})}
