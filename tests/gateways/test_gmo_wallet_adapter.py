"""The GMO-PG redirect wallet adapter (Recruit かんたん支払い) against the sandbox over real HTTP.

Adapter (gateways/gmo/wallet.py) -> loopback sandbox (gateways/sandbox/gmo_wallet.py), checked through the
sandbox's call log and state; the buyer is played through the StartURL page or the control API. A tiny local
server stands in where the sandbox cannot misbehave the way a test needs (garbled 200 answers). Reference:
shared/reference/gmo-pg-protocol.md §3 (Recruit), §4 (codes). No database is used.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from gateways.base import GatewayErrorDetail, GatewayNotSent, GatewayOutcomeUnknown, GatewayRefused, TransactionNotFound
from gateways.gmo.protocol import GmoClient
from gateways.gmo.wallet import GmoWalletGateway, StartInfo, WalletRef, WalletStatus, WalletUsage
from gateways.sandbox import JST
from gateways.sandbox.control import SandboxControl

SHOP_ID = "tshop00000024"
SHOP_PASS = "Rk4vw9Qe1m"  # distinctive, so a leak into a log or repr is easy to spot
MASKED = "********"
RET_URL = "https://shop.example/checkout/recruit/return"


@pytest.fixture
def control(sandbox_server) -> SandboxControl:
    control = SandboxControl(sandbox_server.url)
    control.reset()
    control.register_shop(SHOP_ID, SHOP_PASS)
    return control


@pytest.fixture
def gateway(sandbox_server, control) -> GmoWalletGateway:
    return GmoWalletGateway(GmoClient(sandbox_server.url, SHOP_ID, SHOP_PASS, timeout=5))


def new_order_id() -> str:
    return f"w-{uuid.uuid4().hex[:20]}"


def last_params(control: SandboxControl, api: str) -> dict[str, str]:
    calls = control.calls(api)
    assert calls, f"the sandbox saw no {api} call"
    return calls[-1]["params"]


def started(gateway: GmoWalletGateway, job_cd: str = "AUTH", amount: int = 1000) -> tuple[WalletRef, StartInfo]:
    ref = gateway.entry(new_order_id(), job_cd, amount)
    return ref, gateway.execute(ref, RET_URL, "テスト商品")


def approved(gateway, control, job_cd: str = "AUTH", amount: int = 1000, points: int = 0) -> WalletRef:
    ref, start = started(gateway, job_cd, amount)
    assert control.wallet_approve(start.access_id, points=points)["status"] == job_cd
    return ref


@contextmanager
def fake_gmo(body: bytes):
    """A local server answering every POST with ``body`` (200, GMO's content type)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain;charset=Windows-31J")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---- shape of the adapter ----------------------------------------------------------------------------------


def test_capabilities_of_recruit(gateway):
    caps = gateway.capabilities
    assert (caps.void, caps.amount_change, caps.partial_refund, caps.authorization_extension, caps.search) == (
        True, True, True, True, True)
    assert caps.reauthorize is False
    assert gateway.name == "gmo_recruit" and gateway.apis.pay_type == 24


def test_unknown_wallet_is_refused():
    with pytest.raises(ValueError, match="unknown wallet"):
        GmoWalletGateway(GmoClient("http://gmo.invalid", SHOP_ID, SHOP_PASS), wallet="paypay")


# ---- requests as the sandbox received them -----------------------------------------------------------------


def test_entry_sends_shop_order_job_amount_tax(gateway, control):
    order_id = new_order_id()
    ref = gateway.entry(order_id, "AUTH", 1000)

    assert last_params(control, "EntryTranRecruit") == {"ShopID": SHOP_ID, "ShopPass": MASKED, "OrderID": order_id,
                                                        "JobCd": "AUTH", "Amount": "1000", "Tax": "0"}
    assert ref.order_id == order_id and re.fullmatch(r"[0-9a-f]{32}", ref.access_id)
    assert ref.access_pass not in repr(ref)
    assert control.wallet_transaction(order_id)["status"] == WalletStatus.UNPROCESSED


def test_execute_sends_ids_ret_url_item_name_and_term(gateway, control, sandbox_server):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    start = gateway.execute(ref, RET_URL, "テスト商品①", payment_term_sec=300)

    assert last_params(control, "ExecTranRecruit") == {
        "ShopID": SHOP_ID, "ShopPass": MASKED, "AccessID": ref.access_id, "AccessPass": ref.access_pass,
        "OrderID": ref.order_id, "RetURL": RET_URL, "ItemName": "テスト商品①", "PaymentTermSec": "300"}
    assert start.start_url == f"{sandbox_server.url}/payment/RecruitStart.idPass"
    assert start.access_id == ref.access_id and re.fullmatch(r"[A-Za-z0-9+/]{64}", start.token)
    assert start.form_fields() == {"AccessID": ref.access_id, "Token": start.token}
    assert start.start_limit is None  # Recruit sends no StartLimitDate [?]
    assert start.token not in repr(start)
    gateway.execute(gateway.entry(new_order_id(), "AUTH", 1), RET_URL, "x")
    assert "PaymentTermSec" not in last_params(control, "ExecTranRecruit")


@pytest.mark.parametrize(("operation", "api"), [
    ("capture", "RecruitSales"), ("cancel", "RecruitCancel"), ("extend_authorization", "RecruitUpdateAuth")])
def test_operations_send_shop_and_the_three_ids_only(gateway, control, operation, api):
    ref = approved(gateway, control)
    getattr(gateway, operation)(ref)

    assert last_params(control, api) == {"ShopID": SHOP_ID, "ShopPass": MASKED, "AccessID": ref.access_id,
                                         "AccessPass": ref.access_pass, "OrderID": ref.order_id}


def test_change_sends_amount_and_tax(gateway, control):
    ref = approved(gateway, control)
    gateway.change(ref, 800)

    assert {"AccessID": ref.access_id, "OrderID": ref.order_id, "Amount": "800",
            "Tax": "0"}.items() <= last_params(control, "RecruitChange").items()


# ---- the buyer's browser -------------------------------------------------------------------------------------


def test_browser_round_trip_through_the_start_url(gateway, control):
    ref, start = started(gateway, "AUTH", 2500)
    page = requests.post(start.start_url, data=start.form_fields(), timeout=5)
    assert page.status_code == 200 and "承認する" in page.text and "¥2,500" in page.text
    assert gateway.search(ref.order_id).status == WalletStatus.IN_PROGRESS

    back = requests.post(start.start_url, data={**start.form_fields(), "Decision": "approve", "RcUsePoint": "500"},
                         allow_redirects=False, timeout=5)
    assert back.status_code == 303
    location = urlsplit(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RET_URL
    returned = dict(parse_qsl(location.query, encoding="cp932"))
    assert (returned["OrderID"], returned["Status"]) == (ref.order_id, "AUTH")

    found = gateway.search(ref.order_id)  # the browser's word is confirmed by the gateway
    assert (found.status, found.amount) == (WalletStatus.AUTHORIZED, 2500)
    assert gateway.usage(found) == WalletUsage(points=500)


# ---- typed results through the lifecycle ---------------------------------------------------------------------


def test_search_follows_the_lifecycle(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    found = gateway.search(ref.order_id)
    assert (found.status, found.amount, found.job_cd) == ("UNPROCESSED", 1000, "AUTH")
    assert (found.access_id, found.access_pass) == (ref.access_id, ref.access_pass)
    assert "AccessPass" not in found.raw and found.raw["PayType"] == "24"
    assert found.processed_at.utcoffset() == timedelta(hours=9)

    start = gateway.execute(ref, RET_URL, "x")
    assert gateway.search(ref.order_id).status == WalletStatus.REQUESTED
    control.wallet_approve(start.access_id)
    assert gateway.search(ref.order_id).status == WalletStatus.AUTHORIZED

    captured = gateway.capture(ref)
    assert (captured.status, captured.amount, captured.access_id) == (WalletStatus.CAPTURED, 0, ref.access_id)
    found = gateway.search(ref.order_id)
    assert (found.status, found.job_cd, found.amount) == ("SALES", "SALES", 1000)
    assert re.fullmatch(r"[0-9]{28}", found.tran_id)

    cancelled = gateway.cancel(ref)
    assert cancelled.status == WalletStatus.CANCELLED
    assert gateway.search(ref.order_id).status == "CANCEL"


def test_immediate_capture(gateway, control):
    ref = approved(gateway, control, "CAPTURE", 3000)
    assert gateway.search(ref.order_id).status == WalletStatus.CAPTURED_IMMEDIATELY
    assert WalletStatus.CAPTURED_IMMEDIATELY in WalletStatus.LIVE


def test_capture_with_an_amount_guards_against_an_unsent_change(gateway, control):
    ref = approved(gateway, control, amount=1000)
    with pytest.raises(GatewayRefused) as refused:
        gateway.capture(ref, amount=900)  # our order says 900, the wallet still holds 1000
    assert refused.value.errors == [GatewayErrorDetail("M01", "M01055010")]
    assert gateway.search(ref.order_id).status == WalletStatus.AUTHORIZED

    gateway.change(ref, 900)
    captured = gateway.capture(ref, amount=900)
    assert (captured.status, captured.amount) == ("SALES", 900)
    assert {"Amount": "900", "Tax": "0"}.items() <= last_params(control, "RecruitSales").items()


def test_change_returns_the_new_amount_and_usage(gateway, control):
    ref = approved(gateway, control, amount=1000, points=200)
    changed = gateway.change(ref, 1500)
    assert (changed.status, changed.amount) == (WalletStatus.AUTHORIZED, 1500)
    assert gateway.usage(changed) == WalletUsage(points=200)
    assert [n["amount"] for n in control.wallet_buyer_notices(ref.order_id)] == [1500]

    with pytest.raises(GatewayRefused) as refused:
        gateway.change(ref, 0)
    assert refused.value.has("M01005011")


def test_points_only_payment(gateway, control):
    ref = approved(gateway, control, amount=800, points=800)
    usage = gateway.usage(gateway.search(ref.order_id))
    assert usage == WalletUsage(points=800) and usage.points_only(800) and not usage.points_only(801)
    assert not WalletUsage().points_only(0)
    with pytest.raises(GatewayRefused) as refused:
        gateway.change(ref, 900)
    assert refused.value.has("M01055011")


def test_extend_authorization_reports_the_day(gateway, control):
    control.set_clock(at=datetime(2028, 5, 1, 9, 0, tzinfo=JST))
    ref = approved(gateway, control)
    control.advance_clock(85 * 86400)
    extended = gateway.extend_authorization(ref)
    assert extended.status == WalletStatus.AUTHORIZED and extended.raw["RcUpdateAuthDay"] == "20280725"
    control.advance_clock(10 * 86400)
    assert gateway.capture(ref).status == "SALES"


def test_expired_authorization_is_refused_and_searched_as_expired(gateway, control):
    ref = approved(gateway, control)
    control.advance_clock(91 * 86400)
    with pytest.raises(GatewayRefused) as refused:
        gateway.capture(ref)
    assert refused.value.has("M01060010")
    assert gateway.search(ref.order_id).status == WalletStatus.EXPIRED


def test_failed_and_abandoned_payments(gateway, control):
    failed_ref, failed = started(gateway)
    control.wallet_fail(failed.access_id)
    result = gateway.search(failed_ref.order_id)
    assert result.status == WalletStatus.FAILED

    abandoned_ref, abandoned = started(gateway)
    control.wallet_abandon(abandoned.access_id)
    assert gateway.search(abandoned_ref.order_id).status == WalletStatus.IN_PROGRESS
    assert gateway.cancel(abandoned_ref).status == WalletStatus.CANCELLED

    late_ref, _ = started(gateway)
    control.advance_clock(121)
    assert gateway.search(late_ref.order_id).status == WalletStatus.FAILED


def test_operation_not_allowed_in_state_is_refused(gateway, control):
    ref, _ = started(gateway)
    with pytest.raises(GatewayRefused) as refused:
        gateway.capture(ref)
    assert refused.value.errors == [GatewayErrorDetail("M01", "M01054004")]


def test_search_of_an_unknown_order_raises_not_found(gateway):
    with pytest.raises(TransactionNotFound) as not_found:
        gateway.search("no-such-order")
    assert isinstance(not_found.value.__cause__, GatewayRefused)
    assert not_found.value.__cause__.has("M01004002")


def test_duplicate_order_id_is_refused(gateway):
    order_id = new_order_id()
    gateway.entry(order_id, "AUTH", 1000)
    with pytest.raises(GatewayRefused) as refused:
        gateway.entry(order_id, "AUTH", 1000)
    assert refused.value.has("M01004010")


# ---- transport classification --------------------------------------------------------------------------------


def test_connection_refused_is_not_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = GmoWalletGateway(GmoClient(f"http://127.0.0.1:{port}", SHOP_ID, SHOP_PASS, timeout=2))
    with pytest.raises(GatewayNotSent):
        gateway.entry(new_order_id(), "AUTH", 1000)


def test_dropped_answer_to_capture_is_outcome_unknown_but_applied(gateway, control):
    ref = approved(gateway, control)
    control.set_faults(rules=[{"action": "drop_response", "api": "RecruitSales"}])
    with pytest.raises(GatewayOutcomeUnknown):
        gateway.capture(ref)
    control.clear_faults()
    assert gateway.search(ref.order_id).status == "SALES"  # how a caller resolves the unknown outcome


def test_injected_error_is_refused_and_nothing_applied(gateway, control):
    ref = approved(gateway, control)
    control.set_faults(rules=[{"action": "error", "api": "RecruitCancel", "err_info": "E92000001"}])
    with pytest.raises(GatewayRefused) as refused:
        gateway.cancel(ref)
    assert refused.value.errors == [GatewayErrorDetail("E92", "E92000001")]
    control.clear_faults()
    assert gateway.search(ref.order_id).status == WalletStatus.AUTHORIZED


GARBLED_CALLS = {
    "entry": lambda gw, ref: gw.entry(ref.order_id, "AUTH", 1000),
    "execute": lambda gw, ref: gw.execute(ref, RET_URL, "x"),
    "capture": lambda gw, ref: gw.capture(ref),
    "cancel": lambda gw, ref: gw.cancel(ref),
    "change": lambda gw, ref: gw.change(ref, 500),
    "extend_authorization": lambda gw, ref: gw.extend_authorization(ref),
    "search": lambda gw, ref: gw.search(ref.order_id),
}


@pytest.mark.parametrize("operation", list(GARBLED_CALLS))
def test_garbled_200_answer_is_outcome_unknown(operation):
    ref = WalletRef(new_order_id(), "a" * 32, "b" * 32)
    with fake_gmo(b"<html><body>Service temporarily unavailable</body></html>") as url:
        with pytest.raises(GatewayOutcomeUnknown):
            GARBLED_CALLS[operation](GmoWalletGateway(GmoClient(url, SHOP_ID, SHOP_PASS)), ref)


# ---- secrets -------------------------------------------------------------------------------------------------


def test_logged_calls_mask_shop_pass_and_access_pass(gateway, control, caplog):
    caplog.set_level(logging.INFO, logger="gateways.gmo.protocol")
    ref, start = started(gateway)
    control.wallet_approve(start.access_id)
    gateway.change(ref, 900)
    gateway.capture(ref)

    messages = [r.getMessage() for r in caplog.records if r.name == "gateways.gmo.protocol"]
    assert any(m.startswith("GMO ExecTranRecruit {") and "'AccessPass': '***'" in m for m in messages)
    assert any(m.startswith("GMO RecruitSales {") and "'ShopPass': '***'" in m for m in messages)
    for secret in (SHOP_PASS, ref.access_pass, start.token):
        assert secret not in caplog.text
