"""Install the daily purge of Idempotency-Key records (04:30 JST); operators may edit it in the admin."""

from django.db import migrations

NAME = "Idempotency-Key 記録の削除 (purge idempotency records)"
TASK = "api.purge_idempotency_records"


def install(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    if PeriodicTask.objects.filter(task=TASK).exists():
        return  # never overwrite what an operator configured
    crontab, _ = CrontabSchedule.objects.get_or_create(minute="30", hour="4", day_of_week="*", day_of_month="*",
                                                       month_of_year="*", timezone="Asia/Tokyo")
    PeriodicTask.objects.create(name=NAME, task=TASK, crontab=crontab)


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_idempotency_claim_and_retention"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
