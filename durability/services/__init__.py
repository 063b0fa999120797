"""Durability writes: backup, restore, verify, retention, point-in-time restore.

One module per seam; callers import the package (`from durability import services`):

- `scope`: what a workspace backup contains (its parts in load order, its files)
- `backup`: writing a backup to backup storage, manifest last
- `restore`: checking an archive and putting a workspace back, all or nothing
- `verify`: the checksum check and scratch-database drill
- `chain`: incremental backups (deltas) and the chains they form
- `retention`: the retention policy, pruning, and the scheduled backup jobs
- `instance`: the instance backup (every global row, the catalogue)
- `point_in_time`: restoring objects from history as new versions
"""

from durability.services.backup import backup_create, new_backup_id
from durability.services.instance import (
    backup_instance_create,
    instance_restore,
    newest_instance_backup,
)
from durability.services.point_in_time import RestoreReport, restorable_models, restore_point
from durability.services.restore import backup_restore
from durability.services.retention import (
    backups_prune,
    retention_keep,
    scheduled_backups,
    scheduled_incrementals,
)
from durability.services.scope import workspace_files, workspace_scope
from durability.services.verify import backup_verify, scheduled_verify, scratch_database

__all__ = [
    "RestoreReport",
    "backup_create",
    "backup_instance_create",
    "backup_restore",
    "backup_verify",
    "backups_prune",
    "instance_restore",
    "new_backup_id",
    "newest_instance_backup",
    "restorable_models",
    "restore_point",
    "retention_keep",
    "scheduled_backups",
    "scheduled_incrementals",
    "scheduled_verify",
    "scratch_database",
    "workspace_files",
    "workspace_scope",
]
