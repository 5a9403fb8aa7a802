"""Run the local GMO-PG card sandbox (gateways/sandbox) until Ctrl-C."""

import signal

from django.core.management.base import BaseCommand, CommandError

from gateways.sandbox.server import SandboxServer


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # stop on SIGTERM (docker, supervisors) the same way as on Ctrl-C


class Command(BaseCommand):
    help = "Serve the GMO-PG card sandbox (protocol-type API, control API under /_sandbox/, /token page)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--state-file", help="JSON file to load at start and rewrite after every change")
        parser.add_argument("--latency-ms", type=int, default=0, help="added to every /payment call")
        parser.add_argument("--auth-validity-days", type=int, default=90)
        parser.add_argument("--strict-cancel-jobs", action="store_true",
                            help="VOID/RETURN/RETURNX only on the matching JST dates")
        parser.add_argument("--slow-seconds", type=float, default=35.0,
                            help="answer delay of the slow test card 4000000000000259")
        parser.add_argument("--shop", action="append", default=[], metavar="SHOP_ID:SHOP_PASS",
                            help="pre-register a shop (repeatable)")
        parser.add_argument("--closed-shops", action="store_true",
                            help="refuse unknown ShopIDs instead of registering them on first use")
        parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
        parser.add_argument("--public-url", default=None,
                            help="base URL browsers reach the sandbox at (wallet StartURL), e.g. behind docker")

    def handle(self, *args, **options):
        shops = {}
        for item in options["shop"]:
            shop_id, sep, shop_pass = item.partition(":")
            if not sep:
                raise CommandError(f"--shop expects SHOP_ID:SHOP_PASS, got {item!r}")
            shops[shop_id] = shop_pass
        try:
            server = SandboxServer(
                host=options["host"], port=options["port"], state_file=options["state_file"],
                latency_ms=options["latency_ms"], verbose=options["verbose"], shops=shops,
                auth_validity_days=options["auth_validity_days"],
                strict_cancel_jobs=options["strict_cancel_jobs"], slow_seconds=options["slow_seconds"],
                open_shops=not options["closed_shops"], public_url=options["public_url"],
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        self.stdout.write(f"GMO-PG sandbox (card, Recruit wallet) listening on {server.url}")
        self.stdout.write(f"  protocol API: {server.url}/payment/EntryTran.idPass …")
        self.stdout.write(f"  token page:   {server.url}/token    control API: {server.url}/_sandbox/")
        self.stdout.flush()
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            server.stop()
