"""伝票番号一括登録: an uploaded CSV of order number → slip number captures the orders and ships them."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from orders import admin_slip_upload, shipping
from orders.models import Fulfilment, Shipment, SlipUpload
from orders.services import LineInput, place_card_order
from orders.slip_csv import ReportResult, parse_slip_csv
from orders.slip_upload import UploadRefused, accept_upload, process_upload
from orders.tasks import process_slip_upload
from payments import services, wallet_rules
from payments.actors import Actor
from payments.errors import NotPermitted
from payments.models import Status
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.roles import Role
from tests.factories import VISA_OK, member, wallet_order

pytestmark = pytest.mark.django_db

R = ReportResult
HEADER = ("受注番号", "配送業者", "伝票番号")
SYSTEM = Actor.system("test")
FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９ー")


def csv_bytes(rows, encoding="utf-8-sig", header=HEADER) -> bytes:
    text = "".join(",".join(cells) + "\r\n" for cells in [header, *rows])
    return text.encode(encoding)


def slip(i: int) -> str:
    return f"4000-{i:08d}"


def recruit_sales(sandbox, payment) -> list[dict]:
    return [c for c in sandbox.calls("RecruitSales") if c["params"].get("AccessID") == payment.access_id]


def in_default_language(fn, *args):
    with translation.override(django_settings.LANGUAGE_CODE):  # stored messages are in the admin's default
        return fn(*args)


@pytest.fixture
def queued(monkeypatch):
    """Upload ids the admin queued on commit; the test then plays the worker."""
    ids: list[int] = []
    monkeypatch.setattr(admin_slip_upload, "enqueue", ids.append)
    return ids


def upload_via_admin(client, shop, data: bytes, name="slips.csv", *, capture_callbacks):
    with capture_callbacks(execute=True):
        return client.post(reverse("admin:orders_order_slip_upload"),
                           {"shop": shop.pk, "file": _named(data, name)})


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


# --- the 1,000-row file -----------------------------------------------------------------------------------


def build_big_file(shop, other_shop, sandbox):
    """1,000 data rows, shuffled: (rows, expected result per row, facts to check afterwards)."""
    rnd = random.Random(20260401)
    rows: list[tuple[tuple[str, ...], str]] = []
    good = [wallet_order(shop, sandbox, amount=1000 + i, number=f"R-{i:04d}") for i in range(100)]
    for i, order in enumerate(good):
        number = slip(i).translate(FULLWIDTH) if i % 10 == 0 else slip(i)  # typed in Japanese input mode
        rows.append(((order.number, "ヤマト運輸" if i % 2 else "佐川急便", number), R.CAPTURED))
    cards = [place_card_order(shop, lines=[LineInput("カード商品", 1, 3000 + i)], total=3000 + i,
                              customer_name="鈴木 一郎", token=sandbox.create_token(VISA_OK), number=f"C-{i:03d}",
                              by=SYSTEM) for i in range(3)]
    rows += [((order.number, "日本郵便", slip(500 + i)), R.CAPTURED) for i, order in enumerate(cards)]

    captured_unshipped = wallet_order(shop, sandbox, number="PRE-1")
    services.capture_payment(captured_unshipped.payment, by=SYSTEM)
    captured_shipped = wallet_order(shop, sandbox, number="PRE-2")
    services.capture_payment(captured_shipped.payment, by=SYSTEM)
    shipping.mark_shipped(captured_shipped, carrier="ヤマト運輸", slip_number="111111-1", by=SYSTEM)
    rows += [(("PRE-1", "ヤマト運輸", slip(601)), R.ALREADY_CAPTURED),
             (("PRE-2", "ヤマト運輸", slip(602)), R.ALREADY_CAPTURED)]

    cancelled = wallet_order(shop, sandbox, number="CXL-1")
    services.cancel_payment(cancelled.payment, by=SYSTEM)
    rows.append((("CXL-1", "", slip(603)), R.NOT_CAPTURABLE))
    foreign = wallet_order(other_shop, sandbox, number="OTHER-1")  # another shop's order: not found here
    rows.append(((foreign.number, "", slip(604)), R.UNKNOWN_ORDER))

    bad_slips = ["12-AB-34", "1.23457E+11", "123", "4000--1234", "伝票なし"]
    rows += [((f"BAD-{i}", "", bad_slips[i % len(bad_slips)]), R.MALFORMED) for i in range(30)]
    rows += [((f"NOSLIP-{i}", "ヤマト運輸", ""), R.MALFORMED) for i in range(20)]
    rows += [(("", "ヤマト運輸", slip(700 + i)), R.MALFORMED) for i in range(10)]
    rows += [((f"SHORT-{i}",), R.MALFORMED) for i in range(5)]  # missing cells
    rows += [((f"LONG-{i}", "x", slip(800 + i), "extra"), R.MALFORMED) for i in range(5)]
    unknown = 1000 - 20 - len(rows)  # 20 duplicates are added below
    rows += [((f"ZZ-{i:05d}", "ヤマト運輸", slip(1000 + i)), R.UNKNOWN_ORDER) for i in range(unknown)]
    rnd.shuffle(rows)

    # Duplicates of good orders, and of rows with errors, each placed after its first occurrence.
    position = {cells[0]: index for index, (cells, _) in enumerate(rows)}
    for number in [o.number for o in good[:15]] + ["NOSLIP-1", "BAD-2", "ZZ-00001", "C-001", "PRE-1"]:
        at = rnd.randrange(position[number] + 1, len(rows) + 1)
        rows.insert(at, ((number, "ヤマト運輸", slip(9000)), R.DUPLICATE))
        position = {cells[0]: index for index, (cells, _) in reversed(list(enumerate(rows)))}
    assert len(rows) == 1000
    expected = {index + 2: result for index, (_, result) in enumerate(rows)}  # header is line 1
    facts = {"good": good, "cards": cards, "captured_unshipped": captured_unshipped,
             "captured_shipped": captured_shipped, "cancelled": cancelled}
    return [cells for cells, _ in rows], expected, facts


@pytest.mark.usefixtures("english_client")
@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_thousand_row_file_through_the_admin(client, shop, other_shop, sandbox, settings, queued, encoding,
                                             django_capture_on_commit_callbacks):
    settings.SLIP_UPLOAD_CHUNK_SIZE = 200
    rows, expected, facts = build_big_file(shop, other_shop, sandbox)
    data = csv_bytes(rows, encoding)
    sales_before = len(sandbox.calls("RecruitSales"))
    client.force_login(member(shop, Role.STAFF))

    response = upload_via_admin(client, shop, data, capture_callbacks=django_capture_on_commit_callbacks)
    upload = SlipUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_order_slip_upload_result", args=[upload.pk])
    assert queued == [upload.pk]  # queued on commit, not processed in the request
    assert (upload.status, upload.total_rows, upload.entries) == (SlipUpload.Status.QUEUED, 1000, [])
    assert upload.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "cp932")
    assert '<meta http-equiv="refresh" content="2">' in client.get(response["Location"]).content.decode()

    with CaptureQueriesContext(connection) as queries:
        process_slip_upload(upload.pk)  # the worker
    lookups = [q for q in queries.captured_queries if '"orders_order"."number" IN' in q["sql"]]
    assert len(lookups) == 5  # one per chunk of 200 rows, not one per row

    # Every data line accounted for, with the right result.
    upload.refresh_from_db()
    assert upload.status == SlipUpload.Status.DONE and upload.finished_at
    assert {e["line"]: e["result"] for e in upload.entries} == expected
    assert len(upload.entries) == 1000
    counts = {r: sum(1 for v in expected.values() if v == r) for r in R.values}
    assert {r: getattr(upload, f"{r}_count") for r in R.values} == counts
    assert counts[R.CAPTURED] == 103 and counts[R.DUPLICATE] == 20

    # Parser errors carry the parser's own message.
    parsed = in_default_language(parse_slip_csv, data)
    by_line = {e["line"]: e for e in upload.entries}
    assert {e.line: e.message for e in parsed.errors} == {
        line: by_line[line]["message"] for line, r in expected.items() if r in (R.MALFORMED, R.DUPLICATE)}

    # Captured and shipped, with the normalised slip number and the row's carrier.
    for i, order in enumerate(facts["good"]):
        order.refresh_from_db()
        order.payment.refresh_from_db()
        shipment = order.shipments.get()
        assert order.payment.status == Status.CAPTURED
        assert (shipment.slip_number, shipment.shipped_at is not None) == (slip(i), True)
        assert shipment.carrier == ("ヤマト運輸" if i % 2 else "佐川急便")
        assert order.fulfilment_status == Fulfilment.SHIPPED
        assert len(recruit_sales(sandbox, order.payment)) == 1
    for i, order in enumerate(facts["cards"]):
        order.payment.refresh_from_db()
        assert order.payment.status == Status.CAPTURED
        assert Shipment.objects.get(order=order).slip_number == slip(500 + i)
    # 100 captures now, plus the two captured beforehand: nothing else reached the wallet.
    assert len(sandbox.calls("RecruitSales")) - sales_before == 100

    # Already captured: the unshipped one gets its slip number, the shipped one keeps its own.
    assert facts["captured_unshipped"].shipments.get().slip_number == slip(601)
    assert facts["captured_shipped"].shipments.get().slip_number == "111111-1"
    pre2 = next(e for e in upload.entries if e["order_number"] == "PRE-2")
    assert "111111-1" in pre2["message"]
    cancelled = next(e for e in upload.entries if e["order_number"] == "CXL-1")
    assert cancelled["message"] and not facts["cancelled"].shipments.filter(shipped_at__isnull=False).exists()

    # The result page, then the report CSV as the operator downloads it.
    page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert f'id="slip-count-captured">{counts[R.CAPTURED]}<' in page
    report = client.get(reverse("admin:orders_order_slip_upload_report", args=[upload.pk]))
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    assert report.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[0] == ["line no.", "order number", "shipping slip number", "result", "message"]
    with translation.override("en"):
        labels = {r: str(R(r).label) for r in R.values}
    assert [int(line[0]) for line in lines[1:]] == list(range(2, 1002))
    assert {int(line[0]): line[3] for line in lines[1:]} == {n: labels[r] for n, r in expected.items()}
    first_good = next(line for line in lines[1:] if line[1] == "R-0000")
    assert first_good[2] == slip(0)  # the full-width number, normalised


# --- refusals of the file as a whole ----------------------------------------------------------------------


@pytest.mark.usefixtures("english_client")
def test_missing_required_column_refuses_the_file_and_stores_nothing(client, shop, staff, queued,
                                                                     django_capture_on_commit_callbacks):
    data = csv_bytes([("R-1", "ヤマト運輸")], header=("受注番号", "配送業者"))
    with pytest.raises(UploadRefused) as refused:
        accept_upload(shop, data, "slips.csv", by=Actor.for_user(staff))
    assert "伝票番号" in refused.value.message

    client.force_login(staff)
    response = upload_via_admin(client, shop, data, capture_callbacks=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Required columns are missing" in html and "伝票番号" in html
    assert not SlipUpload.objects.exists() and queued == []


def test_unreadable_encoding_is_refused(shop, staff):
    with pytest.raises(UploadRefused):
        accept_upload(shop, "受注番号,伝票番号\r\nR-1,123456\r\n".encode("utf-16"), "x.csv", by=Actor.for_user(staff))
    assert not SlipUpload.objects.exists()


# --- the same file twice, and already captured orders -------------------------------------------------------


@pytest.mark.usefixtures("english_client")
def test_same_file_twice_processes_nothing_twice(client, shop, staff, sandbox, queued,
                                                 django_capture_on_commit_callbacks):
    orders = [wallet_order(shop, sandbox, number=f"W-{i}") for i in range(3)]
    data = csv_bytes([(o.number, "ヤマト運輸", slip(i)) for i, o in enumerate(orders)], "cp932")
    client.force_login(staff)
    upload_via_admin(client, shop, data, capture_callbacks=django_capture_on_commit_callbacks)
    process_slip_upload(queued.pop())

    response = upload_via_admin(client, shop, data, name="again.csv",
                                capture_callbacks=django_capture_on_commit_callbacks)
    upload = SlipUpload.objects.get()
    assert queued == []  # done: nothing queued again
    assert response["Location"] == reverse("admin:orders_order_slip_upload_result", args=[upload.pk])
    page = client.get(response["Location"]).content.decode()
    assert "already uploaded on" in page and "nothing was processed again" in page
    assert process_upload(upload) is False  # a stray worker finds it done
    assert upload.captured_count == 3 and upload.filename == "slips.csv"
    for order in orders:
        assert len(recruit_sales(sandbox, order.payment)) == 1
        assert order.shipments.filter(shipped_at__isnull=False).count() == 1

    # A different file naming the same orders: already captured, no gateway call.
    other, created = accept_upload(shop, csv_bytes([(o.number, "", slip(50 + i)) for i, o in enumerate(orders)]),
                                   "later.csv", by=Actor.for_user(staff))
    assert created
    calls_before = len(sandbox.calls())
    process_upload(other)
    assert [e["result"] for e in other.entries] == [R.ALREADY_CAPTURED] * 3
    assert len(sandbox.calls()) == calls_before
    for i, order in enumerate(orders):
        assert list(order.shipments.values_list("slip_number", flat=True)) == [slip(i)]


def test_retried_worker_neither_captures_nor_ships_twice(shop, staff, sandbox):
    orders = [wallet_order(shop, sandbox, number=f"W-{i}") for i in range(4)]
    upload, _ = accept_upload(shop, csv_bytes([(o.number, "", slip(i)) for i, o in enumerate(orders)]), "a.csv",
                              by=Actor.for_user(staff))
    assert process_upload(upload)
    # The worker died after the gateway calls of the last two rows but before their report was saved.
    SlipUpload.objects.filter(pk=upload.pk).update(
        entries=upload.entries[:2], status=SlipUpload.Status.PROCESSING,
        claimed_at=timezone.now() - timedelta(hours=1))
    upload.refresh_from_db()
    calls_before = len(sandbox.calls("RecruitSales"))

    assert process_upload(upload)
    assert [e["result"] for e in upload.entries] == [R.CAPTURED] * 4  # the ledger says they were ours
    assert len(sandbox.calls("RecruitSales")) == calls_before
    for order in orders:
        assert order.shipments.get().slip_number  # one shipment each, not a second one


def test_live_claim_is_not_taken_over(shop, staff, sandbox):
    upload, _ = accept_upload(shop, csv_bytes([("NOPE-1", "", slip(1))]), "a.csv", by=Actor.for_user(staff))
    SlipUpload.objects.filter(pk=upload.pk).update(status=SlipUpload.Status.PROCESSING, claimed_at=timezone.now())
    assert process_upload(upload) is False
    upload.refresh_from_db()
    assert upload.entries == [] and upload.status == SlipUpload.Status.PROCESSING


# --- rules ------------------------------------------------------------------------------------------------


def test_unsent_amount_change_is_not_capturable_and_never_reaches_the_pg(shop, staff, sandbox):
    edited = wallet_order(shop, sandbox, amount=5000, number="EDIT-1")
    fine = wallet_order(shop, sandbox, amount=3000, number="FINE-1")
    services.record_amount_change(edited.payment, new_amount=4000, by=SYSTEM)
    edited.payment.refresh_from_db()
    rule = in_default_language(
        lambda: wallet_rules.availability(WalletOperation.CAPTURE, facts_for(edited.payment, timezone.now())).reason)

    upload, _ = accept_upload(shop, csv_bytes([("EDIT-1", "", slip(1)), ("FINE-1", "", slip(2))]), "a.csv",
                              by=Actor.for_user(staff))
    process_upload(upload)
    assert [(e["order_number"], e["result"]) for e in upload.entries] == [
        ("EDIT-1", R.NOT_CAPTURABLE), ("FINE-1", R.CAPTURED)]
    assert upload.entries[0]["message"] == rule
    edited.payment.refresh_from_db()
    assert edited.payment.status == Status.AUTHORIZED and edited.payment.pending_amount == 4000
    assert recruit_sales(sandbox, edited.payment) == [] and len(recruit_sales(sandbox, fine.payment)) == 1
    assert not edited.shipments.filter(shipped_at__isnull=False).exists()


def test_gateway_refusal_is_reported_and_other_rows_go_through(shop, staff, sandbox):
    refused = wallet_order(shop, sandbox, number="GW-1")
    fine = wallet_order(shop, sandbox, number="GW-2")
    sandbox.patch_wallet_transaction(refused.payment.gateway_order_id, status="CANCEL")  # cancelled at the PG only
    upload, _ = accept_upload(shop, csv_bytes([("GW-1", "", slip(1)), ("GW-2", "", slip(2))]), "a.csv",
                              by=Actor.for_user(staff))
    process_upload(upload)
    first, second = upload.entries
    assert first["result"] == R.NOT_CAPTURABLE and "M01054004" in first["message"]  # the PG's refusal
    refused.payment.refresh_from_db()
    assert refused.payment.status == Status.CAPTURE_FAILED  # 売上失敗, for the status sync to settle
    assert second["result"] == R.CAPTURED
    assert not refused.shipments.filter(shipped_at__isnull=False).exists()
    fine.payment.refresh_from_db()
    assert fine.payment.status == Status.CAPTURED


# --- permissions and scoping --------------------------------------------------------------------------------


def test_other_shop_gets_404_and_viewer_cannot_upload(client, shop, other_shop, staff, sandbox):
    upload, _ = accept_upload(shop, csv_bytes([("NOPE-1", "", slip(1))]), "a.csv", by=Actor.for_user(staff))
    process_upload(upload)
    result = reverse("admin:orders_order_slip_upload_result", args=[upload.pk])
    report = reverse("admin:orders_order_slip_upload_report", args=[upload.pk])

    client.force_login(member(other_shop, Role.ADMIN))
    assert client.get(result).status_code == 404
    assert client.get(report).status_code == 404
    # Their upload page offers only their own shop, and a post naming ours is refused.
    response = client.post(reverse("admin:orders_order_slip_upload"),
                           {"shop": shop.pk, "file": _named(csv_bytes([("X-1", "", slip(3))]), "b.csv")})
    assert response.status_code == 200 and SlipUpload.objects.count() == 1

    viewer = member(shop, Role.VIEWER)
    client.force_login(viewer)
    assert client.get(result).status_code == 200  # a viewer may read the report
    assert client.get(reverse("admin:orders_order_slip_upload")).status_code == 403
    response = client.post(reverse("admin:orders_order_slip_upload"),
                           {"shop": shop.pk, "file": _named(csv_bytes([("X-1", "", slip(3))]), "b.csv")})
    assert response.status_code == 403
    assert 'id="slip-upload-link"' not in client.get(reverse("admin:orders_order_changelist")).content.decode()
    with pytest.raises(NotPermitted):
        accept_upload(shop, csv_bytes([("X-1", "", slip(3))]), "b.csv", by=Actor.for_user(viewer))
    assert SlipUpload.objects.count() == 1

    client.force_login(staff)
    changelist = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert 'id="slip-upload-link"' in changelist
    page = client.get(reverse("admin:orders_order_slip_upload")).content.decode()
    assert "受注番号" in page and "伝票番号" in page and "Shift_JIS" in page


# --- Celery -----------------------------------------------------------------------------------------------


def test_celery_task_processes_the_upload(shop, staff, sandbox):
    order = wallet_order(shop, sandbox, number="CEL-1")
    upload, _ = accept_upload(shop, csv_bytes([("CEL-1", "佐川急便", slip(1))]), "a.csv", by=Actor.for_user(staff))
    result = process_slip_upload.apply(args=(upload.pk,)).get()  # eager, as a worker would run it
    assert result == {"upload": upload.pk, "rows": 1, "captured": 1}
    order.payment.refresh_from_db()
    assert order.payment.status == Status.CAPTURED
    assert order.shipments.get().slip_number == slip(1)
    assert process_slip_upload.apply(args=(upload.pk,)).get() == {"upload": upload.pk, "waiting": False}
    assert process_slip_upload.apply(args=(10**9,)).get() == {"missing": 10**9}
