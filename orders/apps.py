from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from orders import receivers  # noqa: F401
        from orders.fulfilment_facts import fulfilment_facts
        from payments.wallet_facts import register_fulfilment_provider

        register_fulfilment_provider(fulfilment_facts)
