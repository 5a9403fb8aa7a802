"""Install the default schedules; operators edit them afterwards in the admin (django-celery-beat)."""

from django.db import migrations

SCHEDULES = [
    # name, task, crontab (minute, hour) or interval minutes
    ("仮売上期限バッチ (authorization expiry)", "batches.authorization_expiry", ("0", "9"), None),
    ("ゲートウェイ状態同期 (gateway status sync)", "batches.gateway_status_sync", None, 5),
]


def install(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    for name, task, cron, minutes in SCHEDULES:
        if PeriodicTask.objects.filter(task=task).exists():
            continue  # never overwrite what an operator configured
        if cron:
            minute, hour = cron
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*",
                timezone="Asia/Tokyo")
            PeriodicTask.objects.create(name=name, task=task, crontab=crontab)
        else:
            interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
            PeriodicTask.objects.create(name=name, task=task, interval=interval)


def uninstall(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
