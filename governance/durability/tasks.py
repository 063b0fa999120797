from celery import shared_task


@shared_task(name="durability.nightly_backup")
def nightly_backup() -> str:
    """Full backup, then verify it by re-reading every checksum."""
    from governance.durability import services

    record = services.create_backup()
    problems = services.verify_backup(record.location)
    if problems:
        raise RuntimeError("; ".join(problems))
    return record.location
