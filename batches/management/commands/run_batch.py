from django.core.management.base import BaseCommand, CommandError

from batches.expiry import run_authorization_expiry
from batches.konbini import run_konbini_deadlines
from batches.status_sync import run_status_sync

BATCHES = {"gateway_status_sync": run_status_sync, "authorization_expiry": run_authorization_expiry,
           "konbini_deadlines": run_konbini_deadlines}


class Command(BaseCommand):
    help = "Run one scheduled batch now, in this process (the same code the Celery task runs)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(BATCHES))

    def handle(self, name, **options):
        report = BATCHES[name]()
        if report is None:
            raise CommandError("another run holds the lock; nothing done")
        self.stdout.write(f"{name}: processed {report.processed}, failed {report.failed}")
