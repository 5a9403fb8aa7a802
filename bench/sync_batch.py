"""Benchmark: the gateway status sync batch over N payments on PostgreSQL, against the sandbox.

    make bench            (or: .venv/bin/python bench/sync_batch.py --count 100000)

Prints, from one run: payments synced per second, the bound the sandbox's injected latency puts on
that figure (concurrency / latency), their ratio, and the peak memory (VmHWM) of the Celery worker
that ran the batch. Needs PostgreSQL and Redis (BENCH_DATABASE_URL / REDIS_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/payments_bench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SHOP_ID, SHOP_PASS = "tshopbench01", "benchpass"

from bench.common import free_port, recreate_database, wait_for_sandbox  # noqa: E402 (needs ROOT on the path)


def sandbox_state(order_ids: list[str], amount: int) -> tuple[dict, list[tuple[str, str]]]:
    """One real transaction made through the sandbox's API, cloned N times (different ids)."""
    from gateways.sandbox.gmo_card import GmoCardSandbox

    card = GmoCardSandbox()
    card.register_shop(SHOP_ID, SHOP_PASS)
    shop = {"ShopID": SHOP_ID, "ShopPass": SHOP_PASS}
    entry = dict(card.handle("EntryTran", {**shop, "OrderID": "TEMPLATE-1", "JobCd": "AUTH", "Amount": str(amount)}))
    token = card.create_token("4111111111111111")["token"]
    card.handle("ExecTran", {"AccessID": entry["AccessID"], "AccessPass": entry["AccessPass"],
                             "OrderID": "TEMPLATE-1", "Method": "1", "Token": token})
    state = card.to_state()
    template = state["transactions"][0]
    transactions, ids = [], []
    for order_id in order_ids:
        access_id, access_pass = secrets.token_hex(16), secrets.token_hex(16)
        transactions.append({**template, "order_id": order_id, "access_id": access_id, "access_pass": access_pass,
                             "history": []})
        ids.append((access_id, access_pass))
    state["transactions"] = transactions
    state["tokens"] = []
    return {"clock_offset": 0, "gmo_card": state}, ids


def seed_payments(count: int, amount: int, sandbox_url: str, state_file: Path, chunk: int = 5000) -> None:
    from django.utils import timezone

    from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
    from shops.models import Shop

    shop = Shop(name="ベンチ店", code="bench", gmo_shop_id=SHOP_ID, gmo_base_url=sandbox_url)
    shop.set_gmo_shop_pass(SHOP_PASS)
    shop.save()
    order_ids = [f"B{i:09d}" for i in range(count)]
    state, access = sandbox_state(order_ids, amount)
    state_file.write_text(json.dumps(state), encoding="utf-8")
    now = timezone.now()
    for start in range(0, count, chunk):
        rows = [Payment(shop=shop, gateway_order_id=order_ids[i], access_id=access[i][0], access_pass=access[i][1],
                        amount=amount, authorized_at=now, authorization_expires_at=now + timedelta(days=90),
                        reference=f"BENCH-{i}") for i in range(start, min(start + chunk, count))]
        created = Payment.objects.bulk_create(rows)
        Payment.objects.filter(pk__in=[p.pk for p in created]).update(status=Status.AUTHORIZED)
        # A just-completed authorization on each: every payment is a "recently changed" candidate.
        PaymentOperation.objects.bulk_create(
            PaymentOperation(payment=p, kind=OperationKind.AUTHORIZE, state=OperationState.SUCCEEDED,
                             idempotency_key=f"bench:{p.pk}", gateway_job="AUTH", amount=amount,
                             status_before="unprocessed", status_after="authorized", actor_label="bench",
                             completed_at=now) for p in created)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=int, default=10, help="injected per-call sandbox latency")
    parser.add_argument("--concurrency", type=int, default=8, help="gateway threads per worker process")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="Celery prefork processes")
    parser.add_argument("--chunk-size", type=int, default=500)
    args = parser.parse_args()

    queue = f"bench-{secrets.token_hex(4)}"
    env = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL,
           "CELERY_TASK_DEFAULT_QUEUE": queue,  # the chunk tasks follow the coordinator to this worker
           "DEBUG": "0",  # production settings: no per-connection query log growing in the worker
           "BATCH_GATEWAY_CONCURRENCY": str(args.concurrency), "LOG_LEVEL": "WARNING",
           "DJANGO_SETTINGS_MODULE": "payments_admin.settings"}
    os.environ.update(env)
    recreate_database(DB_URL)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    python = sys.executable
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    state_file = workdir / "sandbox.json"
    t0 = time.perf_counter()
    seed_payments(args.count, 3000, sandbox_url, state_file)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have them in production
        cursor.execute("ANALYZE")
    print(f"seeded {args.count:,} payments and sandbox transactions in {time.perf_counter() - t0:.1f}s")

    sandbox = subprocess.Popen([python, "manage.py", "run_gateway_sandbox", "--port", str(port), "--state-file",
                                str(state_file), "--latency-ms", str(args.latency_ms)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    celery = str(Path(python).with_name("celery"))
    worker = subprocess.Popen([celery, "-A", "payments_admin", "worker", "--pool=prefork",
                               f"--concurrency={args.processes}", "-Q", queue, "--loglevel=WARNING"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(workdir / "worker.log", "w"))
    try:
        wait_for_sandbox(sandbox, sandbox_url)
        from batches.models import BatchRun
        from batches.tasks import gateway_status_sync
        start = time.perf_counter()
        started = gateway_status_sync.apply_async(kwargs={"chunk_size": args.chunk_size}, queue=queue).get(
            timeout=3600)
        while (run := BatchRun.objects.get(pk=started["run"])).status == BatchRun.Status.RUNNING:
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
        peaks = {pid: peak_rss_mb(pid) for pid in worker_processes(worker.pid)}
        result = {"processed": run.processed, "failed": run.failed, "chunks": run.chunks_total}
    finally:
        worker.terminate()
        sandbox.terminate()
        worker.wait(30)
        sandbox.wait(30)

    rate = result["processed"] / elapsed
    threads = args.concurrency * args.processes
    bound = threads * 1000 / args.latency_ms if args.latency_ms else float("inf")
    print(f"batch result: {result}")
    print(f"sync batch: {result['processed']:,} payments in {elapsed:.1f}s = {rate:,.0f} payments/s")
    print(f"sandbox bound: {threads} concurrent SearchTrade ({args.processes} processes × {args.concurrency} "
          f"threads) × 1000/{args.latency_ms:g} ms = {bound:,.0f} payments/s; achieved {rate / bound:.0%} of it")
    print("worker peak memory (VmHWM): " + ", ".join(f"{mb:,.0f} MiB" for mb in peaks.values())
          + f" (main process first; largest child {max(list(peaks.values())[1:] or [0]):,.0f} MiB)")


if __name__ == "__main__":
    main()
