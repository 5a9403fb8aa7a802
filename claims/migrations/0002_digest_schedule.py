"""Install the staff digest of cancel requests (JST, settings.CLAIM_DIGEST_HOURS, default 09:00, 13:00, 17:00);
operators edit the schedule afterwards in the admin (django-celery-beat)."""

from django.conf import settings
from django.db import migrations

NAME = "キャンセル申請ダイジェスト (cancel request digest)"
TASK = "claims.cancel_request_digest"


def install(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    if PeriodicTask.objects.filter(task=TASK).exists():
        return  # never overwrite what an operator configured
    hours = ",".join(str(h) for h in getattr(settings, "CLAIM_DIGEST_HOURS", (9, 13, 17)))
    crontab, _ = CrontabSchedule.objects.get_or_create(minute="0", hour=hours, day_of_week="*", day_of_month="*",
                                                       month_of_year="*", timezone="Asia/Tokyo")
    PeriodicTask.objects.create(name=NAME, task=TASK, crontab=crontab)


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
