"""The GMO-PG card adapter over real HTTP: request fields, cp932, error lines, typed results, transport.

Adapter (gateways/gmo) -> loopback sandbox (gateways/sandbox), checked through the sandbox's call log and
state; a tiny local HTTP server stands in where the sandbox cannot misbehave the way a test needs (raw
body capture, HTTP 500, empty or garbled 200 answers). Reference: shared/reference/gmo-pg-protocol.md
§1 (transport, cp932), §2 (card APIs), §4 (error codes). No database is used.
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
from urllib.parse import parse_qsl

import pytest

from gateways.base import (
    GatewayErrorDetail,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    GatewayRefused,
    TransactionNotFound,
)
from gateways.gmo.card import CardRef, GmoCardGateway
from gateways.gmo.protocol import GmoClient, encode_request, parse_errors, parse_response, redacted
from gateways.sandbox.control import SandboxControl

SHOP_ID = "tshop00000042"
SHOP_PASS = "Zq7pw8Lk2x"  # distinctive, so a leak into a log or repr is easy to spot
MASKED_SHOP_PASS = "********"  # how the sandbox's call log shows it
GOOD_CARD = "4111111111111111"
DECLINED_CARD = "4000000000000002"  # 42G020000, insufficient balance
HEX32 = re.compile(r"[0-9a-f]{32}")
# Reference §1.3: a recorded ClientField1 and its percent-encoded cp932 request form.
RECORDED_TEXT = "～－￠￡￢－∥①ほげほげhogehoge"
RECORDED_ENCODED = "%81%60%81%7C%81%91%81%92%81%CA%81%7C%81a%87%40%82%D9%82%B0%82%D9%82%B0hogehoge"


# ---- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def control(sandbox_server) -> SandboxControl:
    """A clean sandbox that knows our shop, so every accepted call proves ShopPass arrived intact."""
    control = SandboxControl(sandbox_server.url)
    control.reset()
    control.register_shop(SHOP_ID, SHOP_PASS)
    return control


@pytest.fixture
def client(sandbox_server, control) -> GmoClient:
    return GmoClient(sandbox_server.url, SHOP_ID, SHOP_PASS, timeout=5)


@pytest.fixture
def gateway(client) -> GmoCardGateway:
    return GmoCardGateway(client)


def new_order_id() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def executed(gateway: GmoCardGateway, control: SandboxControl, job_cd: str = "AUTH", amount: int = 1000):
    """EntryTran + ExecTran with a good card; returns (ref, result, token)."""
    ref = gateway.entry(new_order_id(), job_cd, amount)
    token = control.create_token(GOOD_CARD)
    return ref, gateway.execute(ref, token, job_cd, amount), token


def last_params(control: SandboxControl, api: str) -> dict[str, str]:
    """The parameters of the latest `api` call, as the sandbox decoded them (secrets masked)."""
    calls = control.calls(api)
    assert calls, f"the sandbox saw no {api} call"
    return calls[-1]["params"]


def sandbox_tx(control: SandboxControl, ref: CardRef) -> dict:
    tx = control.transaction(ref.order_id)
    assert tx is not None
    return tx


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def fake_gmo(status: int = 200, body: bytes = b"", content_type: str = "text/plain;charset=Windows-31J"):
    """A local server answering every POST with one fixed reply; yields (url, captured requests)."""
    captured: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            captured.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                             "body": self.rfile.read(length)})
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---- 1. request format, as the sandbox received it ---------------------------------------------------


def test_entry_tran_sends_shop_order_job_amount_tax(gateway, control):
    order_id = new_order_id()
    gateway.entry(order_id, "AUTH", 1000)

    params = last_params(control, "EntryTran")
    assert params == {"ShopID": SHOP_ID, "ShopPass": MASKED_SHOP_PASS, "OrderID": order_id,
                      "JobCd": "AUTH", "Amount": "1000", "Tax": "0"}


def test_exec_tran_sends_access_ids_order_method_token_and_no_shop(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    token = control.create_token(GOOD_CARD)
    gateway.execute(ref, token, "AUTH", 1000)

    params = last_params(control, "ExecTran")
    assert params == {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "OrderID": ref.order_id,
                      "Method": "1", "Token": token}


def test_alter_tran_sales_sends_access_ids_job_and_amount(gateway, control):
    ref, _, _ = executed(gateway, control, "AUTH", 1000)
    gateway.alter(ref, "SALES", 1000)

    params = last_params(control, "AlterTran")
    assert {"ShopID": SHOP_ID, "ShopPass": MASKED_SHOP_PASS, "AccessID": ref.access_id,
            "AccessPass": ref.access_pass, "JobCd": "SALES", "Amount": "1000"}.items() <= params.items()
    assert sandbox_tx(control, ref)["status"] == "SALES"


@pytest.mark.parametrize("job_cd", ["VOID", "RETURN", "RETURNX"])
def test_alter_tran_cancel_sends_no_amount(gateway, control, job_cd):
    ref, _, _ = executed(gateway, control, "CAPTURE", 1000)
    gateway.alter(ref, job_cd)

    params = last_params(control, "AlterTran")
    expected = {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "JobCd": job_cd}
    assert expected.items() <= params.items()
    assert "Amount" not in params
    assert sandbox_tx(control, ref)["status"] == job_cd


@pytest.mark.parametrize("job_cd", ["AUTH", "CAPTURE"])
def test_alter_tran_reauthorization_sends_amount(gateway, control, job_cd):
    ref, _, _ = executed(gateway, control, "AUTH", 1000)
    gateway.alter(ref, "VOID")
    gateway.alter(ref, job_cd, 800)

    params = last_params(control, "AlterTran")
    assert {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "JobCd": job_cd,
            "Amount": "800"}.items() <= params.items()
    tx = sandbox_tx(control, ref)
    assert (tx["status"], tx["amount"]) == (job_cd, 800)


def test_change_tran_sends_job_and_amount(gateway, control):
    ref, _, _ = executed(gateway, control, "AUTH", 1000)
    gateway.change(ref, "AUTH", 1500)

    params = last_params(control, "ChangeTran")
    assert {"ShopID": SHOP_ID, "AccessID": ref.access_id, "AccessPass": ref.access_pass, "JobCd": "AUTH",
            "Amount": "1500"}.items() <= params.items()
    assert sandbox_tx(control, ref)["amount"] == 1500


def test_search_trade_sends_only_shop_and_order(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    gateway.search(ref.order_id)

    assert last_params(control, "SearchTrade") == {"ShopID": SHOP_ID, "ShopPass": MASKED_SHOP_PASS,
                                                   "OrderID": ref.order_id}


def test_raw_request_is_a_cp932_percent_encoded_form_post():
    exec_answer = (b"ACS=0&OrderID=o-1&Forward=2a99662&Method=1&PayTimes=&Approve=6416276"
                   b"&TranID=1303011202111111111111198895&TranDate=20130301120312&CheckString=x")
    with fake_gmo(body=exec_answer) as (url, captured):
        GmoClient(url, SHOP_ID, SHOP_PASS).call("ExecTran", {"OrderID": "o-1", "ClientField1": "ほげ～"})

    (request,) = captured
    assert (request["method"], request["path"]) == ("POST", "/payment/ExecTran.idPass")
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert request["body"] == (f"ShopID={SHOP_ID}&ShopPass={SHOP_PASS}&OrderID=o-1"
                               "&ClientField1=%82%D9%82%B0%81%60").encode("ascii")
    assert dict(parse_qsl(request["body"].decode("ascii"), encoding="cp932"))["ClientField1"] == "ほげ～"


@pytest.mark.parametrize(("value", "encoded"), [
    ("ほげ", "%82%D9%82%B0"),
    ("～", "%81%60"),  # U+FF5E FULLWIDTH TILDE, cp932 0x8160
    ("①", "%87%40"),  # NEC extension, not in strict shift_jis
    ("a b&c=d", "a+b%26c%3Dd"),
    (RECORDED_TEXT, RECORDED_ENCODED),
])
def test_encode_request_percent_encodes_cp932_bytes(value, encoded):
    assert encode_request({"ClientField1": value}) == f"ClientField1={encoded}".encode("ascii")


def test_encode_request_writes_ints_and_none_as_text():
    encoded = encode_request({"Amount": 100, "Tax": 0, "ClientField1": None})
    assert encoded == b"Amount=100&Tax=0&ClientField1="


# ---- 2. response decoding -------------------------------------------------------------------------------


def test_parse_response_decodes_raw_cp932_values():
    body = (b"ACS=0&ClientField1=\x87\x40\x81\x60\x82\xd9\x82\xb0&ClientField2=\x83\x5c\x95\x5c"
            b"&ClientField3=&CheckString=a=b\r\n")

    assert parse_response(body) == {
        "ACS": "0",
        "ClientField1": "①～ほげ",  # 0x8740, 0x8160, raw (not percent-encoded)
        "ClientField2": "ソ表",  # trail byte 0x5C ("\") must not confuse the split
        "ClientField3": "",
        "CheckString": "a=b",  # only the first "=" separates key and value
    }


@pytest.mark.parametrize("body", [b"", b"\r\n"])
def test_parse_response_of_an_empty_body_is_empty(body):
    assert parse_response(body) == {}


def test_client_fields_round_trip_through_the_sandbox(gateway, client, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    fields = client.call("ExecTran", {
        "AccessID": ref.access_id, "AccessPass": ref.access_pass, "OrderID": ref.order_id, "Method": 1,
        "Token": control.create_token(GOOD_CARD), "ClientField1": RECORDED_TEXT, "ClientField2": "①～",
        "ClientFieldFlag": 1,
    }, with_shop=False)

    echoed = [fields["ClientField1"], fields["ClientField2"], fields["ClientField3"]]
    assert echoed == [RECORDED_TEXT, "①～", ""]
    assert last_params(control, "ExecTran")["ClientField1"] == RECORDED_TEXT  # decoded as cp932 there
    assert gateway.search(ref.order_id).raw["ClientField1"] == RECORDED_TEXT


# ---- 3. error lines ---------------------------------------------------------------------------------------


def test_several_errors_come_back_in_order_paired_with_their_codes(client):
    with pytest.raises(GatewayRefused) as refused:
        client.call("AlterTran", {"AccessID": "null", "AccessPass": "null", "JobCd": "SALES"})

    assert refused.value.errors == [GatewayErrorDetail("E01", info)
                                    for info in ("E01090008", "E01100008", "E01110002")]
    assert refused.value.codes == "E01090008|E01100008|E01110002"
    assert refused.value.has("E01110002") and not refused.value.has("E01")


@pytest.mark.parametrize("body", [
    b"ErrCode=E01|E01|&ErrInfo=E01090008|E01100008|",
    b"ErrCode=E01|E01&ErrInfo=E01090008|E01100008|",
    b"ErrCode=E01|E01|&ErrInfo=E01090008|E01100008\r\n",
])
def test_parse_errors_tolerates_a_trailing_pipe(body):
    assert parse_errors(parse_response(body)) == [GatewayErrorDetail("E01", "E01090008"),
                                                  GatewayErrorDetail("E01", "E01100008")]


def test_injected_gateway_error_is_refused_and_nothing_applied(gateway, control):
    control.set_faults(rules=[{"action": "error", "api": "EntryTran", "err_info": "E92000001"}])
    order_id = new_order_id()

    with pytest.raises(GatewayRefused) as refused:
        gateway.entry(order_id, "AUTH", 1000)

    assert refused.value.errors == [GatewayErrorDetail("E92", "E92000001")]
    assert control.transaction(order_id) is None


# ---- 4. typed results ------------------------------------------------------------------------------------


def test_entry_returns_the_32_hex_access_id_and_pass(gateway, control):
    order_id = new_order_id()
    ref = gateway.entry(order_id, "AUTH", 1000)

    assert ref.order_id == order_id
    assert HEX32.fullmatch(ref.access_id) and HEX32.fullmatch(ref.access_pass)
    tx = control.transaction(order_id)
    assert (tx["access_id"], tx["access_pass"]) == (ref.access_id, ref.access_pass)
    assert tx["status"] == "UNPROCESSED"


def test_execute_returns_approve_tran_id_and_a_tokyo_time(gateway, control):
    ref, result, _ = executed(gateway, control, "AUTH", 1000)

    assert (result.status, result.job_cd, result.amount) == ("AUTH", "AUTH", 1000)
    assert (result.access_id, result.access_pass) == (ref.access_id, ref.access_pass)
    assert re.fullmatch(r"[0-9]{7}", result.approve)
    assert re.fullmatch(r"[0-9]{28}", result.tran_id)
    assert str(result.processed_at.tzinfo) == "Asia/Tokyo"
    assert result.processed_at.utcoffset() == timedelta(hours=9)
    tx = sandbox_tx(control, ref)
    assert (tx["approve"], tx["tran_id"]) == (result.approve, result.tran_id)
    assert result.processed_at == datetime.fromisoformat(tx["tran_date"]).replace(microsecond=0)
    assert result.raw["ACS"] == "0"


def test_sales_keeps_approve_and_tran_id(gateway, control):
    ref, authorized, _ = executed(gateway, control, "AUTH", 1000)
    captured = gateway.alter(ref, "SALES", 1000)

    assert (captured.status, captured.amount) == ("SALES", 1000)
    assert (captured.approve, captured.tran_id) == (authorized.approve, authorized.tran_id)
    assert captured.processed_at is not None and captured.processed_at.utcoffset() == timedelta(hours=9)


def test_change_issues_new_ids(gateway, control):
    ref, authorized, _ = executed(gateway, control, "AUTH", 1000)
    changed = gateway.change(ref, "AUTH", 1500)

    assert (changed.status, changed.amount) == ("AUTH", 1500)
    assert changed.approve != authorized.approve and re.fullmatch(r"[0-9]{7}", changed.approve)
    assert changed.tran_id != authorized.tran_id and re.fullmatch(r"[0-9]{28}", changed.tran_id)


def test_search_follows_the_transaction_status(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    found = gateway.search(ref.order_id)
    assert (found.status, found.amount, found.job_cd) == ("UNPROCESSED", 1000, "AUTH")

    result = gateway.execute(ref, control.create_token(GOOD_CARD), "AUTH", 1000)
    found = gateway.search(ref.order_id)
    assert (found.status, found.amount, found.job_cd) == ("AUTH", 1000, "AUTH")
    assert (found.access_id, found.approve, found.tran_id) == (ref.access_id, result.approve, result.tran_id)
    assert found.processed_at.utcoffset() == timedelta(hours=9)
    assert "AccessPass" not in found.raw

    gateway.alter(ref, "SALES", 1000)
    found = gateway.search(ref.order_id)
    assert (found.status, found.amount, found.job_cd) == ("SALES", 1000, "SALES")


def test_search_of_an_unknown_order_raises_not_found(gateway):
    with pytest.raises(TransactionNotFound) as not_found:
        gateway.search("no-such-order")

    assert isinstance(not_found.value.__cause__, GatewayRefused)
    assert not_found.value.__cause__.has("E01110002")


def test_declined_card_raises_refused_with_the_issuer_code(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)

    with pytest.raises(GatewayRefused) as refused:
        gateway.execute(ref, control.create_token(DECLINED_CARD), "AUTH", 1000)

    assert refused.value.errors == [GatewayErrorDetail("42G", "42G020000")]
    assert sandbox_tx(control, ref)["status"] == "UNPROCESSED"


# ---- 5. transport classification ------------------------------------------------------------------------


def test_connection_refused_is_not_sent():
    gateway = GmoCardGateway(GmoClient(closed_port_url(), SHOP_ID, SHOP_PASS, timeout=2))

    with pytest.raises(GatewayNotSent):
        gateway.entry(new_order_id(), "AUTH", 1000)


def test_dropped_answer_to_exec_tran_is_outcome_unknown_but_applied(gateway, control):
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    token = control.create_token(GOOD_CARD)
    control.set_faults(rules=[{"action": "drop_response", "api": "ExecTran"}])

    with pytest.raises(GatewayOutcomeUnknown):
        gateway.execute(ref, token, "AUTH", 1000)

    assert sandbox_tx(control, ref)["status"] == "AUTH"
    assert control.calls("ExecTran")[-1]["fault"] == "drop_response"


def test_dropped_answer_to_sales_is_outcome_unknown_but_applied(gateway, control):
    ref, _, _ = executed(gateway, control, "AUTH", 1000)
    control.set_faults(rules=[{"action": "drop_response", "api": "AlterTran", "job_cd": "SALES"}])

    with pytest.raises(GatewayOutcomeUnknown):
        gateway.alter(ref, "SALES", 1000)

    assert sandbox_tx(control, ref)["status"] == "SALES"
    assert gateway.search(ref.order_id).status == "SALES"  # how a caller resolves the unknown outcome


def test_answer_slower_than_the_timeout_is_outcome_unknown(sandbox_server, control):
    gateway = GmoCardGateway(GmoClient(sandbox_server.url, SHOP_ID, SHOP_PASS, timeout=1))
    ref = gateway.entry(new_order_id(), "AUTH", 1000)
    token = control.create_token(GOOD_CARD)
    control.set_faults(rules=[{"action": "delay", "api": "ExecTran", "seconds": 2}])

    with pytest.raises(GatewayOutcomeUnknown):
        gateway.execute(ref, token, "AUTH", 1000)

    assert sandbox_tx(control, ref)["status"] == "AUTH"


@pytest.mark.parametrize("status", [500, 502, 503, 404])
def test_http_error_status_is_outcome_unknown(status):
    with fake_gmo(status=status, body=b"<html>error</html>", content_type="text/html") as (url, captured):
        with pytest.raises(GatewayOutcomeUnknown):
            GmoCardGateway(GmoClient(url, SHOP_ID, SHOP_PASS)).entry(new_order_id(), "AUTH", 1000)
    assert len(captured) == 1  # the request did arrive, and was not retried


@pytest.mark.parametrize("body", [b"", b"\r\n"])
def test_empty_200_answer_is_outcome_unknown(body):
    with fake_gmo(body=body) as (url, _):
        with pytest.raises(GatewayOutcomeUnknown):
            GmoCardGateway(GmoClient(url, SHOP_ID, SHOP_PASS)).entry(new_order_id(), "AUTH", 1000)


GARBLED_CALLS = {
    "entry": lambda gw, ref: gw.entry(ref.order_id, "AUTH", 1000),
    "execute": lambda gw, ref: gw.execute(ref, "tok", "AUTH", 1000),
    "alter": lambda gw, ref: gw.alter(ref, "SALES", 1000),
}


@pytest.mark.parametrize("operation", list(GARBLED_CALLS))
def test_garbled_200_answer_is_outcome_unknown(operation):
    ref = CardRef(new_order_id(), "a" * 32, "b" * 32)
    html = b"<html><body>Service temporarily unavailable</body></html>"
    with fake_gmo(body=html, content_type="text/html") as (url, _):
        with pytest.raises(GatewayOutcomeUnknown):
            GARBLED_CALLS[operation](GmoCardGateway(GmoClient(url, SHOP_ID, SHOP_PASS)), ref)


# ---- 6. secrets -------------------------------------------------------------------------------------------


def test_repr_of_the_client_hides_the_shop_password():
    client = GmoClient("http://gmo.invalid", SHOP_ID, SHOP_PASS)

    assert SHOP_PASS not in repr(client) and SHOP_PASS not in str(client)
    assert SHOP_ID in repr(client)


def test_redacted_masks_passwords_and_token_only():
    params = {"ShopID": SHOP_ID, "ShopPass": SHOP_PASS, "AccessPass": "p" * 32, "Token": "tok", "Amount": 1}

    assert redacted(params) == {"ShopID": SHOP_ID, "ShopPass": "***", "AccessPass": "***", "Token": "***",
                                "Amount": 1}


def test_logged_calls_mask_shop_pass_access_pass_and_token(gateway, control, caplog):
    caplog.set_level(logging.INFO, logger="gateways.gmo.protocol")
    ref, _, token = executed(gateway, control, "AUTH", 1000)
    gateway.alter(ref, "SALES", 1000)
    declined = gateway.entry(new_order_id(), "AUTH", 1000)
    declined_token = control.create_token(DECLINED_CARD)
    with pytest.raises(GatewayRefused):
        gateway.execute(declined, declined_token, "AUTH", 1000)

    messages = [r.getMessage() for r in caplog.records if r.name == "gateways.gmo.protocol"]
    entry_line = next(m for m in messages if m.startswith("GMO EntryTran {"))
    exec_line = next(m for m in messages if m.startswith("GMO ExecTran {"))
    alter_line = next(m for m in messages if m.startswith("GMO AlterTran {"))
    assert "'ShopPass': '***'" in entry_line and "'ShopPass': '***'" in alter_line
    assert "'AccessPass': '***'" in exec_line and "'Token': '***'" in exec_line
    assert "'AccessPass': '***'" in alter_line
    assert any("GMO ExecTran refused 42G020000" in m for m in messages)
    for secret in (SHOP_PASS, ref.access_pass, token, declined.access_pass, declined_token):
        assert secret not in caplog.text
