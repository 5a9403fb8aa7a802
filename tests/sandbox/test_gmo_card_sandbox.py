"""The GMO-PG card sandbox over real HTTP: hand-built cp932 form bodies, raw cp932 responses.

No adapter and no database here: these tests pin the wire protocol the adapter will be written against.
"""

import hashlib
import re
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from gateways.sandbox import JST
from gateways.sandbox.server import SandboxServer
from tests.sandbox.wire import SandboxClient, parse

SHOP = {"ShopID": "tshop00012345", "ShopPass": "pw12345678"}
GOOD_CARD = "4111111111111111"
SEARCH_KEYS = (
    "OrderID Status ProcessDate JobCd AccessID AccessPass ItemCode Amount Tax SiteID MemberID CardNo Expire "
    "Method PayTimes Forward TranID Approve ClientField1 ClientField2 ClientField3"
).split()
EXEC_KEYS = "ACS OrderID Forward Method PayTimes Approve TranID TranDate CheckString".split()
CLIENT_FIELDS = ["ClientField1", "ClientField2", "ClientField3"]
OPERATION_KEYS = "AccessID AccessPass Forward Approve TranID TranDate".split()


class Gmo(SandboxClient):
    """Speaks to the sandbox like a merchant would, plus its control API."""

    shop = SHOP
    entry_api = "EntryTran"
    order_prefix = "ord"

    def exec(self, order_id: str, ids: dict, card: str = GOOD_CARD, **extra) -> dict[str, str]:
        token = self.control.create_token(card)
        return self.call("ExecTran", AccessID=ids["AccessID"], AccessPass=ids["AccessPass"], OrderID=order_id,
                         Method="1", Token=token, **extra)

    def paid(self, job: str = "AUTH", amount: int = 1000) -> tuple[str, dict[str, str]]:
        order_id = self.order_id()
        ids = self.entry(order_id, job, amount)
        assert "ErrCode" not in self.exec(order_id, ids)
        return order_id, ids

    def alter(self, ids: dict, job: str, **extra) -> dict[str, str]:
        return self.call("AlterTran", **SHOP, **ids, JobCd=job, **extra)

    def change(self, ids: dict, job: str, amount: int) -> dict[str, str]:
        return self.call("ChangeTran", **SHOP, **ids, JobCd=job, Amount=str(amount))

    def search(self, order_id: str) -> dict[str, str]:
        return self.call("SearchTrade", **SHOP, OrderID=order_id)


@pytest.fixture
def gmo(server):
    client = Gmo(server.url)
    client.control.reset()
    return client


def error(errinfo: str) -> dict[str, str]:
    return {"ErrCode": "|".join(i[:3] for i in errinfo.split("|")), "ErrInfo": errinfo}


# ---- transport and happy path -------------------------------------------------------------------------


def test_entry_exec_search_happy_path_with_exact_key_order(gmo):
    order_id = gmo.order_id()
    entry_body = urlencode({**SHOP, "OrderID": order_id, "JobCd": "AUTH", "Amount": "1500"})
    entry = gmo.post_raw("EntryTran", entry_body)
    ids = parse(entry.content)
    assert [k for k, _ in ids] == ["AccessID", "AccessPass"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", v) for _, v in ids)
    ids = dict(ids)

    unprocessed = gmo.search(order_id)
    assert list(unprocessed) == SEARCH_KEYS
    assert (unprocessed["Status"], unprocessed["JobCd"], unprocessed["Amount"], unprocessed["Tax"]) == (
        "UNPROCESSED", "AUTH", "1500", "0")
    assert unprocessed["ItemCode"] == "0000990"
    assert unprocessed["Forward"] == unprocessed["CardNo"] == unprocessed["TranID"] == ""

    token = gmo.control.create_token(GOOD_CARD, expire="3012")
    body = urlencode({"AccessID": ids["AccessID"], "AccessPass": ids["AccessPass"], "OrderID": order_id,
                      "Method": "1", "PayTimes": "1", "Token": token})
    response = gmo.post_raw("ExecTran", body)
    executed = parse(response.content)
    assert [k for k, _ in executed] == EXEC_KEYS  # no ClientField* without ClientFieldFlag=1
    ex = dict(executed)
    assert ex["ACS"] == "0" and ex["Forward"] == "2a99662" and ex["PayTimes"] == ""
    assert re.fullmatch(r"[0-9]{7}", ex["Approve"])
    assert re.fullmatch(r"[0-9]{10}111111111111[0-9]{6}", ex["TranID"])
    tran_date = datetime.strptime(ex["TranDate"], "%Y%m%d%H%M%S").replace(tzinfo=JST)
    assert abs(tran_date - gmo.control.now()) < timedelta(seconds=5)
    assert ex["TranID"][:10] == tran_date.strftime("%y%m%d%H%M")
    check = "".join(ex[k] for k in EXEC_KEYS[1:8]) + SHOP["ShopPass"]
    assert ex["CheckString"] == hashlib.md5(check.encode()).hexdigest()

    found = gmo.search(order_id)
    assert list(found) == SEARCH_KEYS
    assert found["Status"] == "AUTH" and found["CardNo"] == "************1111" and found["Expire"] == "3012"
    assert (found["Approve"], found["TranID"], found["Method"]) == (ex["Approve"], ex["TranID"], "1")


def test_cp932_client_field_round_trip_as_raw_bytes(gmo):
    order_id = gmo.order_id()
    ids = gmo.entry(order_id)
    token = gmo.control.create_token(GOOD_CARD)
    # The recorded request of reference §1.3, percent-encoded cp932 bytes.
    encoded = "%81%60%81%7C%81%91%81%92%81%CA%81%7C%81a%87%40%82%D9%82%B0%82%D9%82%B0hogehoge"
    body = (f"AccessID={ids['AccessID']}&AccessPass={ids['AccessPass']}&OrderID={order_id}&Method=1"
            f"&Token={urlencode({'t': token})[2:]}&ClientField1={encoded}&ClientFieldFlag=1")
    response = gmo.post_raw("ExecTran", body)
    text = "～－￠￡￢－∥①ほげほげhogehoge"
    assert b"&ClientField1=" + text.encode("cp932") + b"&ClientField2=&ClientField3=" in response.content
    assert [k for k, _ in parse(response.content)] == EXEC_KEYS + CLIENT_FIELDS
    assert dict(parse(response.content))["ClientField1"] == text
    assert gmo.search(order_id)["ClientField1"] == text


def test_get_is_refused_and_unknown_api_reported(gmo):
    response = requests.get(f"{gmo.url}/payment/EntryTran.idPass", timeout=5)
    assert response.status_code == 200
    assert response.content == b"ErrCode=E00&ErrInfo=E00000001"
    assert gmo.call("NoSuchApi", **SHOP) == error("E91099997")


# ---- validation ----------------------------------------------------------------------------------------


def test_all_junk_requests_report_every_error_in_order(gmo):
    junk_exec = ("AccessID=null&AccessPass=null&OrderID=null&Method=null&PayTimes=null&CardNo=null"
                 "&Expire=null&HttpAccept=null&HttpUserAgent=null&DeviceCategory=0&ClientField1=client_field1"
                 "&ClientField2=null&ClientField3=null&ClientFieldFlag=1")
    assert gmo.post_raw("ExecTran", junk_exec).content == (
        b"ErrCode=E01|E01|E01|E01|E01|E01&ErrInfo=E01090008|E01100008|E01110002|E01170011|E01170006|E01180006")
    junk_alter = f"AccessID=null&AccessPass=null&JobCd=SALES&Amount=null&{urlencode(SHOP)}"
    assert gmo.post_raw("AlterTran", junk_alter).content == (
        b"ErrCode=E01|E01|E01&ErrInfo=E01090008|E01100008|E01110002")
    junk_entry = f"OrderID=null&JobCd=null&Amount=null&{urlencode(SHOP)}"
    assert gmo.post_raw("EntryTran", junk_entry).content == b"ErrCode=E01|E01&ErrInfo=E01050002|E01060006"


def test_entry_tran_order_id_rules(gmo):
    order_id = gmo.order_id()
    gmo.entry(order_id)
    assert gmo.entry(order_id) == error("E01040010")
    assert gmo.entry("x" * 28) == error("E01040003")
    assert gmo.entry("bad_id!") == error("E01040013")
    assert gmo.call("EntryTran", **SHOP, JobCd="AUTH", Amount="1") == error("E01040001")
    assert gmo.entry(gmo.order_id(), job="FOO", amount=None) == error("E01050002|E01060001")
    assert gmo.entry(gmo.order_id(), amount=0) == error("E01060006")
    assert gmo.entry(gmo.order_id(), amount=12345678) == error("E01060005")
    assert "AccessID" in gmo.entry(gmo.order_id(), job="CHECK", amount=None)


def test_shop_credentials(gmo):
    gmo.entry(gmo.order_id())  # open mode: the first use registered the shop
    wrong = {**SHOP, "ShopPass": "other"}
    assert gmo.call("EntryTran", **wrong, OrderID="o1", JobCd="AUTH", Amount="1") == error("E01030002")
    assert gmo.call("SearchTrade", ShopPass="x", OrderID="a") == error("E01010001")
    assert gmo.call("SearchTrade", ShopID="s" * 14, ShopPass="x" * 11, OrderID="a") == error(
        "E01010008|E01020008")
    gmo.control.register_shop("tshopnew", "secret")
    assert gmo.call("SearchTrade", ShopID="tshopnew", ShopPass="nope", OrderID="a") == error("E01030002")


# ---- ExecTran and tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("card, errinfo", [
    ("4000000000000002", "42G020000"),
    ("4000000000000051", "42G550000"),
    ("4000000000000127", "42G440000"),
])
def test_decline_consumes_token_and_leaves_transaction_unprocessed(gmo, card, errinfo):
    order_id = gmo.order_id()
    ids = gmo.entry(order_id)
    assert gmo.exec(order_id, ids, card=card) == error(errinfo)
    assert gmo.search(order_id)["Status"] == "UNPROCESSED"
    assert gmo.exec(order_id, ids)["ACS"] == "0"  # a new token with another card may be tried
    assert gmo.search(order_id)["Status"] == "AUTH"


def test_token_is_one_time_and_expires(gmo):
    order_id = gmo.order_id()
    ids = gmo.entry(order_id)
    token = gmo.control.create_token("4000000000000002")
    exec_params = {"AccessID": ids["AccessID"], "AccessPass": ids["AccessPass"], "OrderID": order_id,
                   "Method": "1"}
    assert gmo.call("ExecTran", **exec_params, Token=token) == error("42G020000")
    assert gmo.call("ExecTran", **exec_params, Token=token) == error("EX1000302")
    assert gmo.call("ExecTran", **exec_params, Token="onetimetokenfromgmo") == error("EX1000301")
    old = gmo.control.create_token(GOOD_CARD)
    gmo.control.advance_clock(31 * 60)
    assert gmo.call("ExecTran", **exec_params, Token=old) == error("EX1000303")
    assert gmo.exec(order_id, ids)["ACS"] == "0"
    assert gmo.exec(order_id, ids) == error("E11010001")  # already executed


def test_exec_tran_by_card_number_and_capture_job(gmo):
    order_id = gmo.order_id()
    ids = gmo.entry(order_id, job="CAPTURE", amount=3000)
    result = gmo.call("ExecTran", AccessID=ids["AccessID"], AccessPass=ids["AccessPass"], OrderID=order_id,
                      Method="2", PayTimes="3", CardNo="5555555555554444", Expire="3001", SecurityCode="123")
    assert result["PayTimes"] == "3"
    found = gmo.search(order_id)
    assert (found["Status"], found["JobCd"], found["CardNo"]) == ("CAPTURE", "CAPTURE", "************4444")


def test_token_creation_refuses_bad_numbers(gmo):
    response = requests.post(f"{gmo.url}/_sandbox/tokens", json={"card_no": "4111111111111112"}, timeout=5)
    assert response.status_code == 400 and "Luhn" in response.json()["error"]
    response = requests.post(f"{gmo.url}/_sandbox/tokens", json={"card_no": "4111"}, timeout=5)
    assert response.status_code == 400
    body = {"card_no": GOOD_CARD, "expire": "3012"}
    created = requests.post(f"{gmo.url}/_sandbox/tokens", json=body, timeout=5)
    assert re.fullmatch(r"[A-Za-z0-9+/]{64}", created.json()["token"])
    assert created.json()["masked_card_no"] == "************1111"


def test_slow_card_authorizes_before_the_client_times_out():
    with SandboxServer(port=0, slow_seconds=1.0) as srv:
        gmo = Gmo(srv.url)
        order_id = gmo.order_id()
        ids = gmo.entry(order_id)
        token = gmo.control.create_token("4000000000000259")
        with pytest.raises(requests.exceptions.ReadTimeout):
            gmo.call("ExecTran", timeout=0.3, AccessID=ids["AccessID"], AccessPass=ids["AccessPass"],
                     OrderID=order_id, Method="1", Token=token)
        assert gmo.search(order_id)["Status"] == "AUTH"  # the gateway did authorize


# ---- AlterTran / ChangeTran ----------------------------------------------------------------------------


def test_sales_needs_the_authorized_amount_and_keeps_ids(gmo):
    order_id, ids = gmo.paid(amount=1000)
    before = gmo.search(order_id)
    assert gmo.alter(ids, "SALES", Amount="999") == error("E01060010")
    assert gmo.alter(ids, "SALES") == error("E01060001")
    sold = gmo.alter(ids, "SALES", Amount="1000")
    assert list(sold) == OPERATION_KEYS
    assert (sold["Approve"], sold["TranID"]) == (before["Approve"], before["TranID"])
    assert gmo.search(order_id)["Status"] == "SALES"
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E01050004")


def test_sales_after_authorization_validity_is_refused(gmo):
    order_id, ids = gmo.paid(amount=1000)
    gmo.control.advance_clock(91 * 86400)
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E01420010")
    assert gmo.search(order_id)["Status"] == "AUTH"
    gmo.control.advance_clock(90 * 86400)
    assert gmo.alter(ids, "VOID") == error("E11010010")  # older than 180 days


def test_alter_tran_on_unprocessed_transaction(gmo):
    ids = gmo.entry(gmo.order_id())
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E01110010")


@pytest.mark.parametrize("cancel", ["VOID", "RETURN", "RETURNX"])
def test_cancel_then_reauthorize(gmo, cancel):
    order_id, ids = gmo.paid(job="CAPTURE", amount=2000)
    before = gmo.search(order_id)
    cancelled = gmo.alter(ids, cancel)
    assert cancelled["Approve"] != before["Approve"] and cancelled["TranID"] != before["TranID"]
    assert gmo.search(order_id)["Status"] == cancel
    assert gmo.alter(ids, cancel) == error("E01050004")
    assert gmo.alter(ids, "AUTH") == error("E01060001")
    reauth = gmo.alter(ids, "AUTH", Amount="1800")
    assert reauth["TranID"] != cancelled["TranID"]
    found = gmo.search(order_id)
    assert (found["Status"], found["Amount"]) == ("AUTH", "1800")
    assert gmo.alter(ids, "SALES", Amount="1800")["Approve"] == reauth["Approve"]
    assert gmo.alter(ids, "AUTH", Amount="1800") == error("E01050004")  # re-authorize only a cancelled one


def test_change_tran(gmo):
    order_id, ids = gmo.paid(amount=1000)
    before = gmo.search(order_id)
    changed = gmo.change(ids, "AUTH", 800)
    assert list(changed) == OPERATION_KEYS
    assert changed["Approve"] != before["Approve"] and changed["TranID"] != before["TranID"]
    assert (gmo.search(order_id)["Status"], gmo.search(order_id)["Amount"]) == ("AUTH", "800")
    assert gmo.change(ids, "SAUTH", 700) == error("E01050004")
    gmo.alter(ids, "SALES", Amount="800")
    assert gmo.change(ids, "AUTH", 700) == error("E01050004")  # a sale never turns back into an authorization
    gmo.change(ids, "CAPTURE", 600)
    assert (gmo.search(order_id)["Status"], gmo.search(order_id)["Amount"]) == ("CAPTURE", "600")
    assert gmo.change(ids, "SALES", 500) == error("E01050002")


def test_strict_cancel_jobs_follow_jst_dates():
    with SandboxServer(port=0, strict_cancel_jobs=True) as srv:
        gmo = Gmo(srv.url)
        gmo.control.set_clock(at=datetime(2028, 1, 15, 10, 0, tzinfo=JST))
        _, same_day = gmo.paid(job="CAPTURE")
        _, next_day = gmo.paid(job="CAPTURE")
        _, next_month = gmo.paid(job="CAPTURE")
        _, auth = gmo.paid(job="AUTH")
        assert gmo.alter(same_day, "RETURN") == error("E01050004")
        assert "Approve" in gmo.alter(same_day, "VOID")

        gmo.control.advance_clock(86400)
        assert gmo.alter(next_day, "VOID") == error("E01050004")
        assert gmo.alter(next_day, "RETURNX") == error("E01050004")
        assert "Approve" in gmo.alter(next_day, "RETURN")

        gmo.control.set_clock(at=datetime(2028, 2, 1, 0, 30, tzinfo=JST))
        assert gmo.alter(next_month, "RETURN") == error("E01050004")
        assert "Approve" in gmo.alter(next_month, "RETURNX")
        assert gmo.alter(auth, "RETURNX") == error("E01050004")  # an authorization is only ever RETURNed
        assert "Approve" in gmo.alter(auth, "RETURN")


# ---- lookups -------------------------------------------------------------------------------------------


def test_search_trade_multi_shape(gmo):
    order_id, _ = gmo.paid()
    response = gmo.post_raw("SearchTradeMulti", urlencode({**SHOP, "OrderID": order_id, "PayType": "0"}))
    pairs = parse(response.content)
    keys = [k for k, _ in pairs]
    assert keys[:20] == SEARCH_KEYS[1:] and keys[20] == "PayType" and "OrderID" not in keys
    assert pairs[-1] == ("Currency", "JPN") and dict(pairs)["Status"] == "AUTH"
    assert gmo.call("SearchTradeMulti", **SHOP, OrderID=order_id, PayType="24") == error("M01051011")
    assert gmo.call("SearchTradeMulti", **SHOP, OrderID="nothing", PayType="0") == error("M01004002")
    assert gmo.call("SearchTradeMulti", **SHOP, OrderID="null", PayType="null") == error(
        "M01051005|M01051011|M01004002")
    assert gmo.search("nothing") == error("E01110002")


# ---- faults and the call log ---------------------------------------------------------------------------


def test_error_fault_answers_without_applying(gmo):
    order_id, ids = gmo.paid()
    rule = {"api": "AlterTran", "job_cd": "SALES", "action": "error", "err_code": "E91",
            "err_info": "E91019999", "times": 1}
    gmo.control.set_faults(rules=[rule])
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E91019999")
    assert gmo.search(order_id)["Status"] == "AUTH"
    assert gmo.control.faults()["rules"][0]["times"] == 0
    assert "Approve" in gmo.alter(ids, "SALES", Amount="1000")  # times=1: the next call goes through
    assert [c["fault"] for c in gmo.control.calls("AlterTran")] == ["error", None]


def test_drop_response_applies_but_loses_the_answer(gmo):
    order_id, ids = gmo.paid()
    gmo.control.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        gmo.alter(ids, "SALES", Amount="1000")
    assert gmo.search(order_id)["Status"] == "SALES"
    call = gmo.control.calls("AlterTran")[-1]
    assert (call["fault"], call["response"], call["http_status"]) == ("drop_response", None, None)


def test_delay_fault_and_latency(gmo):
    gmo.control.set_faults(latency_ms=100, rules=[{"api": "EntryTran", "action": "delay", "seconds": 0.4}])
    started = time.monotonic()
    order_id = gmo.order_id()
    assert "AccessID" in gmo.entry(order_id)
    assert time.monotonic() - started >= 0.5
    assert gmo.control.transaction(order_id)["status"] == "UNPROCESSED"
    gmo.control.clear_faults()
    assert gmo.control.faults() == {"latency_ms": 0, "rules": []}


def test_calls_are_recorded_with_secrets_masked(gmo):
    order_id = gmo.order_id()
    ids = gmo.entry(order_id)
    gmo.call("ExecTran", **SHOP, AccessID=ids["AccessID"], AccessPass=ids["AccessPass"], OrderID=order_id,
             Method="1", CardNo=GOOD_CARD, Expire="3012", SecurityCode="123")
    calls = gmo.control.calls()
    assert [c["api"] for c in calls] == ["EntryTran", "ExecTran"]
    assert calls[0]["params"]["ShopPass"] == "********" and calls[0]["response"].startswith("AccessID=")
    assert calls[1]["params"]["CardNo"] == "************1111" and calls[1]["params"]["SecurityCode"] == "***"
    assert calls[1]["http_status"] == 200 and calls[0]["seq"] < calls[1]["seq"]
    assert "pw12345678" not in str(calls) and GOOD_CARD not in str(calls)
    gmo.control.clear_calls()
    assert gmo.control.calls() == []


# ---- control API ---------------------------------------------------------------------------------------


def test_transaction_changed_behind_our_back(gmo):
    order_id, ids = gmo.paid()
    assert gmo.control.transaction("missing") is None
    patched = gmo.control.patch_transaction(order_id, status="VOID")
    assert patched["status"] == "VOID" and patched["job_cd"] == "VOID"
    assert gmo.search(order_id)["Status"] == "VOID"
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E01050004")
    gmo.control.patch_transaction(order_id, status="AUTH", auth_at=gmo.control.now() - timedelta(days=100))
    assert gmo.alter(ids, "SALES", Amount="1000") == error("E01420010")


def test_clock(gmo):
    now = gmo.control.now()
    assert now.utcoffset() == timedelta(hours=9)
    later = gmo.control.advance_clock(3600)
    assert timedelta(minutes=59) < later - now < timedelta(minutes=61)
    gmo.control.set_clock(0)
    assert abs(gmo.control.now() - datetime.now(JST)) < timedelta(seconds=5)


def test_state_file_survives_restart(tmp_path):
    state_file = tmp_path / "gmo.json"
    with SandboxServer(port=0, state_file=state_file) as first:
        gmo = Gmo(first.url)
        order_id, ids = gmo.paid(amount=1234)
        gmo.control.advance_clock(86400)
        approve = gmo.search(order_id)["Approve"]
    assert not list(tmp_path.glob("*.tmp"))
    with SandboxServer(port=0, state_file=state_file) as second:
        gmo = Gmo(second.url)
        assert gmo.search(order_id)["Approve"] == approve
        assert gmo.control.now() - datetime.now(JST) > timedelta(hours=23)
        assert gmo.alter(ids, "SALES", Amount="1234")["Approve"] == approve
        voided = gmo.alter(ids, "VOID")
        assert int(voided["Approve"]) > int(approve)  # counters continue, no reused numbers


def test_token_page_redirects_back_with_a_token(gmo):
    page = requests.get(f"{gmo.url}/token", params={"return_url": "https://shop.example/pay?o=1"}, timeout=5)
    assert page.status_code == 200 and "カード番号" in page.text and "Card number" in page.text
    assert 'value="https://shop.example/pay?o=1"' in page.text
    form = {"card_no": GOOD_CARD, "expire": "3012", "security_code": "123",
            "return_url": "https://shop.example/pay?o=1"}
    response = requests.post(f"{gmo.url}/token", data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.netloc, location.path) == ("shop.example", "/pay")
    query = parse_qs(location.query)
    assert query["o"] == ["1"] and len(query["token"][0]) == 64

    order_id = gmo.order_id()
    ids = gmo.entry(order_id)
    result = gmo.call("ExecTran", AccessID=ids["AccessID"], AccessPass=ids["AccessPass"], OrderID=order_id,
                      Method="1", Token=query["token"][0])
    assert result["ACS"] == "0"

    shown = requests.post(f"{gmo.url}/token", data={**form, "return_url": ""}, timeout=5)
    assert shown.status_code == 200 and 'id="token"' in shown.text
    refused = requests.post(f"{gmo.url}/token", data={**form, "card_no": "1234567890123"}, timeout=5)
    assert refused.status_code == 400 and "Luhn" in refused.text


def test_reset_forgets_everything(gmo):
    order_id, _ = gmo.paid()
    gmo.control.advance_clock(86400)
    gmo.control.set_faults(latency_ms=5)
    gmo.control.reset()
    assert gmo.control.transactions() == [] and gmo.control.calls() == []
    assert gmo.control.faults() == {"latency_ms": 0, "rules": []}
    assert abs(gmo.control.now() - datetime.now(JST)) < timedelta(seconds=5)
    assert gmo.search(order_id) == error("E01110002")
