"""Existing orders get the delivery state their fulfilment status implies (cancelled / not placed orders stay
入金待ち: nothing of them is on its way)."""

from django.db import migrations

FROM_FULFILMENT = {"new": "new", "paid": "new", "shipped": "shipping"}


def forwards(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    for fulfilment, delivery in FROM_FULFILMENT.items():
        Order.objects.filter(fulfilment_status=fulfilment, delivery_status="awaiting_payment").update(
            delivery_status=delivery)


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0006_order_delivery_status_order_ship_date"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
