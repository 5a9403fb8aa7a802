from django.db import migrations, models

# The scopes as they were when this migration was written (frozen here, not imported).
SCOPES_AT_INTRODUCTION = ["read", "orders", "capture", "cancel", "refund", "change_amount", "reauthorize",
                          "reservations", "bulk"]


def grant_existing_tokens_everything(apps, schema_editor):
    # Tokens issued before scopes existed could do everything; they keep that until re-issued.
    apps.get_model("shops", "ShopApiToken").objects.update(scopes=SCOPES_AT_INTRODUCTION)


class Migration(migrations.Migration):

    dependencies = [
        ("shops", "0004_receipt_issuer"),
    ]

    operations = [
        migrations.AddField(
            model_name="shopapitoken",
            name="scopes",
            field=models.JSONField(blank=True, default=list, verbose_name="scopes"),
        ),
        migrations.RunPython(grant_existing_tokens_everything, migrations.RunPython.noop),
    ]
