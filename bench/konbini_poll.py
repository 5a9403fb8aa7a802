"""Benchmark: the konbini deadlines poll over N vouchers awaiting payment, on PostgreSQL, against the sandbox.

    .venv/bin/python bench/konbini_poll.py            (--count 1000 --latency-ms 100 --workers 8)

Prints, from one run: vouchers checked per second (one PaymentIntent retrieve each), the bound the
sandbox's injected latency puts on that figure (threads / latency), and their ratio. Needs PostgreSQL
(BENCH_DATABASE_URL; the database is recreated).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payments_bench_konbini")

from bench.common import free_port, recreate_database, wait_for_sandbox  # noqa: E402 (needs ROOT on the path)


def seed(count: int, sandbox_url: str) -> None:
    """N real vouchers at the sandbox (created through our adapter), and their payments awaiting payment."""
    from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
    from payments.gateway_factory import konbini_gateway_for
    from payments.models import Method, Payment, Status
    from shops.models import Shop

    shop = Shop(name="ベンチ店", code="bench", stripe_base_url=sandbox_url)
    shop.set_stripe_secret_key(DEFAULT_KEYS[0])
    shop.save()
    gateway = konbini_gateway_for(shop)
    with ThreadPoolExecutor(8) as pool:
        vouchers = list(pool.map(lambda i: gateway.create_voucher(3000, "山田 花子", f"bench{i}@example.com", 3,
                                                                  idempotency_key=f"bench-{i}"), range(count)))
    Payment.objects.bulk_create(
        Payment(shop=shop, method=Method.KONBINI, status=Status.AWAITING_PAYMENT, amount=3000,
                gateway_order_id=f"K{i:09d}", reference=f"BENCH-{i}", payer_name="山田 花子",
                payer_email=f"bench{i}@example.com", external_id=v.intent_id, payment_deadline=v.expires_at)
        for i, v in enumerate(vouchers))  # never checked: every one is due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=100,
                        help="injected per-call sandbox latency (Stripe: ~100-300 ms)")
    parser.add_argument("--workers", type=int, default=8, help="Stripe threads of the poll")
    args = parser.parse_args()

    os.environ.update({"DATABASE_URL": DB_URL, "DEBUG": "0", "LOG_LEVEL": "WARNING",
                       "STRIPE_MAX_NETWORK_RETRIES": "0", "DJANGO_SETTINGS_MODULE": "payments_admin.settings"})
    recreate_database(DB_URL)
    import django

    django.setup()
    from django.core.management import call_command

    from gateways.sandbox.control import SandboxControl

    call_command("migrate", verbosity=0)
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="bench-")) / "sandbox.log"
    sandbox = subprocess.Popen([sys.executable, "manage.py", "run_gateway_sandbox", "--port", str(port)], cwd=ROOT,
                               env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        wait_for_sandbox(sandbox, sandbox_url, log)
        control = SandboxControl(sandbox_url)
        t0 = time.perf_counter()
        seed(args.count, sandbox_url)
        print(f"seeded {args.count:,} vouchers in {time.perf_counter() - t0:.1f}s")
        control.set_faults(latency_ms=args.latency_ms)

        from batches.konbini import run_konbini_deadlines

        start = time.perf_counter()
        report = run_konbini_deadlines(workers=args.workers)
        elapsed = time.perf_counter() - start
    finally:
        sandbox.terminate()
        sandbox.wait(30)

    rate = report.processed / elapsed
    bound = args.workers * 1000 / args.latency_ms if args.latency_ms else float("inf")
    print(f"poll: {report.processed:,} vouchers checked ({report.failed} failed) in {elapsed:.1f}s = {rate:,.0f}/s")
    print(f"sandbox bound: {args.workers} threads × 1000/{args.latency_ms} ms = {bound:,.0f}/s; "
          f"achieved {rate / bound:.0%} of it")


if __name__ == "__main__":
    main()
