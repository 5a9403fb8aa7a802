"""Install the konbini deadlines schedule (every 15 minutes); operators edit it afterwards in the admin."""

from django.db import migrations

NAME = "コンビニ支払期限バッチ (konbini deadlines)"
TASK = "batches.konbini_deadlines"
EVERY_MINUTES = 15


def install(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    if PeriodicTask.objects.filter(task=TASK).exists():
        return  # never overwrite what an operator configured
    interval, _ = IntervalSchedule.objects.get_or_create(every=EVERY_MINUTES, period="minutes")
    PeriodicTask.objects.create(name=NAME, task=TASK, interval=interval)


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0003_fanout_chunks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
