"""Celery tasks of collaboration: thin, ids in, one service call each."""

from celery import shared_task


@shared_task(
    name="collaboration.send_webhook_delivery",
    bind=True,
    acks_late=True,  # a worker killed mid-send leaves the message to be delivered again
    reject_on_worker_lost=True,
    max_retries=None,  # the delivery's own attempt count and schedule decide when to stop
    ignore_result=True,
)
def send_webhook_delivery(self, delivery_id: str) -> None:
    from . import webhooks

    retry_in = webhooks.delivery_send(delivery_id=delivery_id)
    if retry_in:
        raise self.retry(countdown=retry_in)


@shared_task(name="collaboration.sweep_webhook_deliveries", ignore_result=True)
def sweep_webhook_deliveries() -> int:
    from . import webhooks

    return webhooks.webhook_sweep()


@shared_task(name="collaboration.prune_webhook_deliveries", ignore_result=True)
def prune_webhook_deliveries() -> int:
    from . import webhooks

    return webhooks.webhook_deliveries_prune()
