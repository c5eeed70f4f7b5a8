from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import conversions, erasure, stock_requests, tasks  # noqa: F401 - receivers
        from campaigns.bridge import on_cart_email_request, use_queue
        from campaigns.delivery import apply_status_report
        from campaigns.orders import on_order
        from retargeting.gateways import hooks
        from retargeting.tracking.hooks import (
            register_cart_email_handler,
            register_order_handler,
            register_stock_request_handler,
        )

        hooks.register_status_handler(apply_status_report)
        register_cart_email_handler(on_cart_email_request)
        register_order_handler(on_order)
        register_stock_request_handler(stock_requests.on_stock_request)
        stock_requests.Queue.hand_on = lambda request_id: tasks.send_stock_confirmation.delay(
            request_id
        )
        # Looked up at each call: the task objects as they are then (tests replace them).
        use_queue(
            hand_on=lambda send_id: tasks.deliver_send.delay(send_id),
            look_again=lambda countdown, **kwargs: tasks.plan_cart_email.apply_async(
                kwargs=kwargs, countdown=countdown
            ),
        )
