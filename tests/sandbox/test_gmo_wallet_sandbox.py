"""The GMO-PG redirect wallet sandbox (Recruit かんたん支払い) over real HTTP: cp932 forms, raw cp932 answers,
the browser's StartURL pages, result notifications.

No adapter and no database: these tests pin the wire behaviour of gateways/sandbox/gmo_wallet.py (reference
/work/shared/reference/gmo-pg-protocol.md §3, §4, §5; the sandbox's own assumptions are marked [?] there).
"""

import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from gateways.sandbox import JST
from gateways.sandbox.gmo_card import MULTI_EMPTY_KEYS
from gateways.sandbox.server import SandboxServer
from tests.sandbox.wire import SandboxClient, parse

SHOP = {"ShopID": "tshop00054321", "ShopPass": "pw87654321"}
RET_URL = "https://shop.example/recruit/return?cart=7"
RC_KEYS = ("RcOrderId RcCustomerId RcOrderTime RcUsePoint RcUseCoupon RcUseShopCoupon RcUpdateAuthDay RcContractId "
           "RcStartChargeMonth").split()
MULTI_KEYS = [
    *("Status ProcessDate JobCd AccessID AccessPass ItemCode Amount Tax SiteID MemberID CardNo Expire Method "
      "PayTimes Forward TranID Approve ClientField1 ClientField2 ClientField3 PayType").split(),
    *MULTI_EMPTY_KEYS, *RC_KEYS, "Currency",
]
RETURN_KEYS = ("ShopID OrderID Status JobCd Amount Tax Currency AccessID TranID TranDate PayType RcOrderId "
               "RcOrderTime RcUsePoint RcUseCoupon RcUseShopCoupon").split()
IDS = ("AccessID", "AccessPass", "OrderID")


def error(errinfo: str) -> dict[str, str]:
    return {"ErrCode": "|".join(i[:3] for i in errinfo.split("|")), "ErrInfo": errinfo}


def returned(response: requests.Response) -> dict[str, str]:
    """The fields of a 303 back to RetURL (cp932 percent-encoded query)."""
    assert response.status_code == 303, response.text
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query, keep_blank_values=True, encoding="cp932"))


class Wallet(SandboxClient):
    """Speaks to the sandbox like a shop would (APIs) and like a buyer's browser would (StartURL)."""

    shop = SHOP
    entry_api = "EntryTranRecruit"
    order_prefix = "rc"

    def exec(self, ids: dict, ret_url: str = RET_URL, item: str = "テスト商品", **extra) -> dict[str, str]:
        return self.call("ExecTranRecruit", **SHOP, AccessID=ids["AccessID"], AccessPass=ids["AccessPass"],
                         OrderID=ids["OrderID"], RetURL=ret_url, ItemName=item, **extra)

    def requested(self, job: str = "AUTH", amount: int = 1000, **extra) -> tuple[dict, dict]:
        ids = self.entry(self.order_id(), job, amount)
        started = self.exec(ids, **extra)
        assert "ErrCode" not in started, started
        return ids, started

    def browser(self, started: dict, **form) -> requests.Response:
        """The buyer's browser POSTs to StartURL (first AccessID + Token, then the consent form)."""
        data = {"AccessID": started["AccessID"], "Token": started["Token"], **form}
        return requests.post(started["StartURL"], data=data, allow_redirects=False, timeout=10)

    def approved(self, job: str = "AUTH", amount: int = 1000, points: int = 0) -> dict[str, str]:
        ids, started = self.requested(job, amount)
        assert self.browser(started).status_code == 200
        back = returned(self.browser(started, Decision="approve", RcUsePoint=str(points)))
        assert back["Status"] == job
        return ids

    def op(self, api: str, ids: dict, **extra) -> dict[str, str]:
        return self.call(api, **SHOP, **{k: ids[k] for k in IDS}, **extra)

    def search(self, order_id: str, pay_type: str = "24") -> dict[str, str]:
        return self.call("SearchTradeMulti", **SHOP, OrderID=order_id, PayType=pay_type)

    def status(self, order_id: str) -> str:
        return self.search(order_id)["Status"]


@pytest.fixture
def wallet(server):
    client = Wallet(server.url)
    client.control.reset()
    return client


@contextmanager
def merchant(answers: list[str]):
    """A shop's result-notification endpoint answering ``answers`` in turn (the last one forever)."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            body = answers[min(len(received), len(answers)) - 1].encode("ascii")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/gmo/notify", received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


# ---- the whole flow, key orders --------------------------------------------------------------------------


def test_happy_path_statuses_and_key_orders(wallet):
    order_id = wallet.order_id()
    entry = wallet.post_raw("EntryTranRecruit", urlencode({**SHOP, "OrderID": order_id, "JobCd": "AUTH",
                                                           "Amount": "1500", "Tax": "100"}))
    ids = parse(entry.content)
    assert [k for k, _ in ids] == ["OrderID", "AccessID", "AccessPass"]  # wallets echo OrderID first
    ids = dict(ids)
    assert ids["OrderID"] == order_id
    assert re.fullmatch(r"[0-9a-f]{32}", ids["AccessID"]) and re.fullmatch(r"[0-9a-f]{32}", ids["AccessPass"])

    unprocessed = wallet.search(order_id)
    assert list(unprocessed) == MULTI_KEYS and "OrderID" not in unprocessed
    assert (unprocessed["Status"], unprocessed["JobCd"], unprocessed["Amount"], unprocessed["Tax"]) == (
        "UNPROCESSED", "AUTH", "1500", "100")
    assert (unprocessed["PayType"], unprocessed["Currency"], unprocessed["RcUsePoint"]) == ("24", "JPN", "0")

    body = urlencode({**SHOP, **ids, "RetURL": RET_URL, "ItemName": "テスト"}, encoding="cp932")
    executed = parse(wallet.post_raw("ExecTranRecruit", body).content)
    assert [k for k, _ in executed] == ["AccessID", "Token", "StartURL"]  # no StartLimitDate for Recruit [?]
    started = dict(executed)
    assert started["AccessID"] == ids["AccessID"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{64}", started["Token"])
    assert started["StartURL"] == f"{wallet.url}/payment/RecruitStart.idPass"
    assert wallet.status(order_id) == "REQSUCCESS"

    page = wallet.browser(started)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for text in ("リクルートかんたん支払い", "承認する", "Approve", "戻る", "失敗させる", "¥1,600", started["Token"]):
        assert text in page.text
    assert wallet.status(order_id) == "AUTHPROCESS"

    back = wallet.browser(started, Decision="approve")
    location = urlsplit(back.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/recruit/return")
    assert location.query.startswith("cart=7&")
    fields = returned(back)
    assert list(fields)[1:] == RETURN_KEYS and "ErrCode" not in fields and "AccessPass" not in fields
    assert (fields["OrderID"], fields["Status"], fields["JobCd"], fields["Amount"], fields["PayType"]) == (
        order_id, "AUTH", "AUTH", "1500", "24")
    tran_date = datetime.strptime(fields["TranDate"], "%Y%m%d%H%M%S").replace(tzinfo=JST)
    assert abs(tran_date - wallet.control.now()) < timedelta(seconds=5)
    assert re.fullmatch(r"[0-9]{28}", fields["TranID"])

    authorized = wallet.search(order_id)
    assert authorized["Status"] == "AUTH" and authorized["TranID"] == fields["TranID"]
    assert authorized["RcOrderId"] == fields["RcOrderId"] and re.fullmatch(r"[0-9]{16}", authorized["RcOrderId"])
    assert re.fullmatch(r"[0-9a-f]{64}", authorized["RcCustomerId"])

    sold = wallet.op("RecruitSales", ids)
    assert list(sold.items()) == [("AccessID", ids["AccessID"]), ("Status", "SALES")]
    found = wallet.search(order_id)
    assert (found["Status"], found["JobCd"], found["Amount"]) == ("SALES", "SALES", "1500")
    assert wallet.op("RecruitSales", ids) == error("M01054004")

    cancelled = wallet.op("RecruitCancel", ids)
    assert list(cancelled.items()) == [("OrderID", order_id), ("Status", "CANCEL")]
    assert wallet.status(order_id) == "CANCEL"
    assert wallet.op("RecruitCancel", ids) == error("M01054004")


def test_capture_job_is_captured_at_approval(wallet):
    ids = wallet.approved(job="CAPTURE", amount=3000)
    found = wallet.search(ids["OrderID"])
    assert (found["Status"], found["JobCd"]) == ("CAPTURE", "CAPTURE")
    assert wallet.op("RecruitSales", ids) == error("M01054004")
    assert wallet.op("RecruitUpdateAuth", ids) == error("M01054004")
    assert wallet.op("RecruitCancel", ids)["Status"] == "CANCEL"


def test_cp932_item_name_and_client_fields(wallet):
    ids = wallet.entry(wallet.order_id())
    item = "～①ほげ商品"
    body = (f"{urlencode(SHOP)}&AccessID={ids['AccessID']}&AccessPass={ids['AccessPass']}&OrderID={ids['OrderID']}"
            f"&RetURL={urlencode({'u': RET_URL})[2:]}&ItemName=%81%60%87%40%82%D9%82%B0%8F%A4%95i"
            "&ClientField1=%82%D9%82%B0")
    started = dict(parse(wallet.post_raw("ExecTranRecruit", body).content))
    assert wallet.control.calls("ExecTranRecruit")[-1]["params"]["ItemName"] == item
    assert wallet.control.wallet_transaction(ids["OrderID"])["item_name"] == item
    assert item in wallet.browser(started).text
    assert wallet.search(ids["OrderID"])["ClientField1"] == "ほげ"


# ---- the buyer's choices and the start deadline ----------------------------------------------------------


def test_abandon_leaves_authprocess_until_cancelled(wallet):
    ids, started = wallet.requested()
    wallet.browser(started)
    fields = returned(wallet.browser(started, Decision="abandon"))
    assert (fields["Status"], fields["TranID"]) == ("AUTHPROCESS", "") and "ErrCode" not in fields
    wallet.control.advance_clock(3600)  # the start deadline no longer applies once the buyer arrived [?]
    assert wallet.status(ids["OrderID"]) == "AUTHPROCESS"
    assert wallet.op("RecruitSales", ids) == error("M01054004")
    assert wallet.op("RecruitCancel", ids)["Status"] == "CANCEL"
    page = wallet.browser(started, Decision="approve")
    assert page.status_code == 409 and "already processed" in page.text


def test_buyer_failure_is_payfail_with_error_fields(wallet):
    ids, started = wallet.requested()
    wallet.browser(started)
    fields = returned(wallet.browser(started, Decision="fail"))
    assert (fields["Status"], fields["ErrCode"], fields["ErrInfo"]) == ("PAYFAIL", "M91", "M91099999")
    assert wallet.status(ids["OrderID"]) == "PAYFAIL"
    assert wallet.op("RecruitSales", ids) == error("M01054004")
    assert wallet.op("RecruitCancel", ids) == error("M01054004")
    assert returned(wallet.browser(started))["Status"] == "PAYFAIL"  # back button: the same answer


def test_start_deadline_default_120_seconds(wallet):
    ids, started = wallet.requested()
    wallet.control.advance_clock(119)
    assert wallet.status(ids["OrderID"]) == "REQSUCCESS"
    wallet.control.advance_clock(2)
    assert wallet.status(ids["OrderID"]) == "PAYFAIL"
    fields = returned(wallet.browser(started))
    assert (fields["Status"], fields["ErrInfo"]) == ("PAYFAIL", "M01089010")


def test_payment_term_sec_sets_the_deadline(wallet):
    ids, started = wallet.requested(PaymentTermSec="30")
    wallet.control.advance_clock(31)
    assert returned(wallet.browser(started))["Status"] == "PAYFAIL"
    ids, started = wallet.requested(PaymentTermSec="600")
    wallet.control.advance_clock(300)
    assert wallet.browser(started).status_code == 200
    assert wallet.status(ids["OrderID"]) == "AUTHPROCESS"


def test_points_and_coupons_are_kept(wallet):
    ids, started = wallet.requested(amount=2000)
    wallet.browser(started)
    fields = returned(wallet.browser(started, Decision="approve", RcUsePoint="300", RcUseCoupon="200",
                                     RcUseShopCoupon="100"))
    assert (fields["RcUsePoint"], fields["RcUseCoupon"], fields["RcUseShopCoupon"]) == ("300", "200", "100")
    found = wallet.search(ids["OrderID"])
    assert (found["Amount"], found["RcUsePoint"], found["RcUseCoupon"], found["RcUseShopCoupon"]) == (
        "2000", "300", "200", "100")


@pytest.mark.parametrize("form", [{"RcUsePoint": "1001"}, {"RcUsePoint": "-1"}, {"RcUsePoint": "abc"},
                                  {"RcUsePoint": "600", "RcUseCoupon": "401"}])
def test_consent_page_refuses_bad_points(wallet, form):
    ids, started = wallet.requested(amount=1000)
    wallet.browser(started)
    page = wallet.browser(started, Decision="approve", **form)
    assert page.status_code == 400 and 'class="error"' in page.text and "承認する" in page.text
    assert wallet.status(ids["OrderID"]) == "AUTHPROCESS"


def test_start_url_refuses_get_and_unknown_tokens(wallet):
    _, started = wallet.requested()
    assert requests.get(started["StartURL"], timeout=5).status_code == 405
    wrong = wallet.browser({**started, "Token": "x" * 64})
    assert wrong.status_code == 400 and "M01074090" in wrong.text
    assert wallet.browser({**started, "AccessID": "0" * 32}).status_code == 400
    assert wallet.browser({**started, "Token": "ほげ"}).status_code == 400  # non-ASCII junk is no crash
    assert wallet.browser(started).status_code == 200
    assert wallet.browser(started).status_code == 200  # reloading the consent page is harmless


# ---- validation ----------------------------------------------------------------------------------------


def test_entry_validation(wallet):
    order_id = wallet.order_id()
    wallet.entry(order_id)
    assert wallet.entry(order_id) == error("M01004010")
    junk = f"OrderID=null&JobCd=null&Amount=null&{urlencode(SHOP)}"
    assert wallet.post_raw("EntryTranRecruit", junk).content == b"ErrCode=M01|M01&ErrInfo=M01054010|M01005006"
    assert wallet.entry("x" * 28) == error("M01004012")
    assert wallet.entry("bad_id!") == error("M01004013")
    assert wallet.call("EntryTranRecruit", **SHOP, JobCd="AUTH", Amount="1") == error("M01004001")
    assert wallet.entry(wallet.order_id(), job="", amount=None) == error("M01054001|M01005001")
    assert wallet.entry(wallet.order_id(), job="SALES") == error("M01054010")
    assert wallet.entry(wallet.order_id(), amount=0) == error("M01005011")
    assert wallet.entry(wallet.order_id(), amount=12345678) == error("M01005005")
    assert wallet.entry(wallet.order_id(), Tax="x") == error("M01006006")
    assert wallet.entry(wallet.order_id(), amount=9_999_999, Tax="1") == error("M01005011")


def test_shop_credentials_use_m01_codes(wallet):
    wallet.entry(wallet.order_id())  # open mode: first use registers the shop
    wrong = {**SHOP, "ShopPass": "other"}
    assert wallet.call("EntryTranRecruit", **wrong, OrderID="o1", JobCd="AUTH", Amount="1") == error("M01002002")
    assert wallet.call("RecruitSales", ShopPass="x") == error("M01002001")


def test_same_order_id_may_be_used_by_card_and_wallet(wallet):
    order_id = wallet.order_id()
    card = wallet.call("EntryTran", **SHOP, OrderID=order_id, JobCd="AUTH", Amount="500")
    recruit = wallet.entry(order_id, amount=700)
    assert card["AccessID"] != recruit["AccessID"]
    assert wallet.search(order_id, pay_type="0")["Amount"] == "500"
    assert wallet.search(order_id, pay_type="24")["Amount"] == "700"


def test_exec_validation_reports_every_error_in_order(wallet):
    ids = wallet.entry(wallet.order_id())
    base = {**SHOP, **ids, "RetURL": RET_URL, "ItemName": "x"}
    assert wallet.call("ExecTranRecruit", **{**base, "RetURL": ""}) == error("M01056001")
    assert wallet.call("ExecTranRecruit", **{**base, "RetURL": "javascript:alert(1)"}) == error("M01056001")
    assert wallet.call("ExecTranRecruit", **{**base, "RetURL": RET_URL + "x" * 300}) == error("M01059005")
    assert wallet.call("ExecTranRecruit", **{**base, "ItemName": ""}) == error("M01043001")
    assert wallet.call("ExecTranRecruit", **{**base, "ItemName": "あ" * 33}) == error("M01043012")
    assert wallet.call("ExecTranRecruit", **{**base, "PaymentTermSec": "abc"}) == error("M01048006")
    assert wallet.call("ExecTranRecruit", **{**base, "PaymentTermSec": "123456"}) == error("M01048005")
    assert wallet.call("ExecTranRecruit", **{**base, "PaymentTermSec": "0"}) == error("M01048011")
    assert wallet.call("ExecTranRecruit", **{**base, "PaymentTermSec": "86401"}) == error("M01048011")
    assert wallet.call("ExecTranRecruit", **{**base, "ClientField1": "x" * 101}) == error("M01039012")
    junk = {**SHOP, "AccessID": "null", "AccessPass": "null", "OrderID": "", "PaymentTermSec": "x"}
    assert wallet.call("ExecTranRecruit", **junk) == error(
        "M01007008|M01008008|M01004001|M01058002|M01056001|M01043001|M01048006")
    assert wallet.status(ids["OrderID"]) == "UNPROCESSED"
    assert "Token" in wallet.call("ExecTranRecruit", **base)
    assert wallet.call("ExecTranRecruit", **base) == error("M01004014")  # already requested


def test_operations_find_the_transaction_by_access_ids(wallet):
    ids = wallet.approved()
    junk = f"{urlencode(SHOP)}&AccessID=null&AccessPass=null&OrderID="
    assert wallet.post_raw("RecruitSales", junk).content == (
        b"ErrCode=M01|M01|M01|M01&ErrInfo=M01007008|M01008008|M01004001|M01058002")
    assert wallet.op("RecruitSales", {**ids, "OrderID": "someone-else"}) == error("M01004002")
    assert wallet.op("RecruitSales", {**ids, "AccessPass": "0" * 32}) == error("M01058002")
    other_shop = {"ShopID": "tshopother", "ShopPass": "pw"}
    assert wallet.call("RecruitSales", **other_shop, **{k: ids[k] for k in IDS}) == error("M01058010")
    card = wallet.call("EntryTran", **SHOP, OrderID=wallet.order_id(), JobCd="AUTH", Amount="500")
    assert wallet.op("RecruitSales", {**card, "OrderID": "x"}) == error("M01058002")  # a card transaction
    unprocessed = wallet.entry(wallet.order_id())
    assert wallet.op("RecruitSales", unprocessed) == error("M01054004")
    assert wallet.op("RecruitCancel", unprocessed) == error("M01054004")


# ---- capture, validity, extension ------------------------------------------------------------------------


def test_sales_amount_guard(wallet):
    ids = wallet.approved(amount=1000)
    assert wallet.op("RecruitSales", ids, Amount="999") == error("M01055010")
    assert wallet.op("RecruitSales", ids, Amount="1000", Tax="10") == error("M01055010")
    assert wallet.op("RecruitSales", ids, Amount="abc") == error("M01005006")
    assert wallet.status(ids["OrderID"]) == "AUTH"
    assert wallet.op("RecruitSales", ids, Amount="1000")["Status"] == "SALES"


def test_authorization_expires_after_90_days(wallet):
    ids = wallet.approved()
    wallet.control.advance_clock(89 * 86400)
    assert wallet.status(ids["OrderID"]) == "AUTH"
    wallet.control.advance_clock(2 * 86400)
    assert wallet.status(ids["OrderID"]) == "EXPIRED"
    for api in ("RecruitSales", "RecruitUpdateAuth", "RecruitCancel"):
        assert wallet.op(api, ids) == error("M01060010")
    assert wallet.op("RecruitChange", ids, Amount="500") == error("M01060010")


def test_update_auth_extends_the_validity(wallet):
    wallet.control.set_clock(at=datetime(2028, 1, 10, 12, 0, tzinfo=JST))
    ids = wallet.approved()
    wallet.control.advance_clock(80 * 86400)
    extended = wallet.op("RecruitUpdateAuth", ids)
    assert list(extended.items()) == [("OrderID", ids["OrderID"]), ("Status", "AUTH"),
                                      ("RcUpdateAuthDay", "20280330")]
    assert wallet.search(ids["OrderID"])["RcUpdateAuthDay"] == "20280330"
    wallet.control.advance_clock(39 * 86400)  # day 119 of 90 + 30
    assert wallet.status(ids["OrderID"]) == "AUTH"
    wallet.control.advance_clock(2 * 86400)
    assert wallet.status(ids["OrderID"]) == "EXPIRED"


# ---- amount changes ------------------------------------------------------------------------------------


def test_amount_change_of_an_authorization(wallet):
    ids = wallet.approved(amount=1000)
    raised = wallet.op("RecruitChange", ids, Amount="1500", Tax="50")
    assert list(raised) == ["OrderID", "Status", "Amount", "Tax", "RcUsePoint", "RcUseCoupon", "RcUseShopCoupon"]
    assert (raised["Status"], raised["Amount"], raised["Tax"]) == ("AUTH", "1500", "50")
    lowered = wallet.op("RecruitChange", ids, Amount="800")
    assert (lowered["Amount"], lowered["Tax"]) == ("800", "0")
    assert wallet.op("RecruitChange", ids, Amount="0") == error("M01005011")  # a change never goes to 0
    assert wallet.op("RecruitChange", ids) == error("M01005001")
    notices = wallet.control.wallet_buyer_notices(ids["OrderID"])
    assert [(n["previous_amount"], n["amount"], n["kind"]) for n in notices] == [
        (1000, 1500, "amount_change"), (1500, 800, "amount_change")]
    assert "¥1,550 → ¥800" in notices[1]["message"]
    assert wallet.op("RecruitSales", ids, Amount="800")["Status"] == "SALES"


def test_amount_change_after_capture_follows_the_windows(wallet):
    wallet.control.set_clock(at=datetime(2028, 1, 15, 10, 0, tzinfo=JST))
    ids = wallet.approved(job="CAPTURE", amount=5000)
    assert wallet.op("RecruitChange", ids, Amount="4000") == error("M01054004")  # not on the capture day
    wallet.control.set_clock(at=datetime(2028, 1, 16, 0, 30, tzinfo=JST))
    assert wallet.op("RecruitChange", ids, Amount="4000") == error("M01054004")  # nor 00:00-01:00 next day
    wallet.control.set_clock(at=datetime(2028, 1, 16, 1, 0, tzinfo=JST))
    assert wallet.op("RecruitChange", ids, Amount="4000")["Status"] == "CAPTURE"
    assert wallet.op("RecruitChange", ids, Amount="4001") == error("M01055011")  # never an increase
    wallet.control.set_clock(at=datetime(2028, 2, 29, 23, 59, tzinfo=JST))
    assert wallet.op("RecruitChange", ids, Amount="3000")["Amount"] == "3000"
    wallet.control.set_clock(at=datetime(2028, 3, 1, 0, 0, 1, tzinfo=JST))
    assert wallet.op("RecruitChange", ids, Amount="2000") == error("M01057010")
    assert wallet.op("RecruitCancel", ids) == error("M01057010")
    assert len(wallet.control.wallet_buyer_notices(ids["OrderID"])) == 2


def test_sales_after_capture_may_be_lowered_from_the_next_day(wallet):
    ids = wallet.approved(amount=1000)
    wallet.op("RecruitSales", ids)
    assert wallet.op("RecruitChange", ids, Amount="900") == error("M01054004")
    wallet.control.advance_clock(2 * 86400)
    assert wallet.op("RecruitChange", ids, Amount="1100") == error("M01055011")
    assert wallet.op("RecruitChange", ids, Amount="900")["Status"] == "SALES"


def test_points_only_payment_is_never_increased(wallet):
    ids = wallet.approved(amount=1000, points=1000)
    assert wallet.search(ids["OrderID"])["RcUsePoint"] == "1000"
    assert wallet.op("RecruitChange", ids, Amount="1001") == error("M01055011")
    lowered = wallet.op("RecruitChange", ids, Amount="700")
    assert (lowered["Amount"], lowered["RcUsePoint"]) == ("700", "700")  # points used stay within the total [?]
    partly = wallet.approved(amount=1000, points=999)
    assert wallet.op("RecruitChange", partly, Amount="1200")["Amount"] == "1200"


# ---- SearchTradeMulti routing ----------------------------------------------------------------------------


def test_search_trade_multi_routes_by_pay_type(wallet):
    ids = wallet.approved()
    card_order = wallet.order_id()
    wallet.call("EntryTran", **SHOP, OrderID=card_order, JobCd="AUTH", Amount="500")
    assert wallet.search(card_order, pay_type="0")["Status"] == "UNPROCESSED"
    assert wallet.search(ids["OrderID"], pay_type="0") == error("M01004002")
    assert wallet.search("nothing-here") == error("M01004002")
    assert wallet.call("SearchTradeMulti", **SHOP, PayType="24") == error("M01004001")
    assert wallet.search(card_order) == error("M01051011")  # a card order asked as Recruit [?]
    # Rakuten (18) is not implemented: the card sandbox answers as for any PayType it does not serve.
    assert wallet.search(ids["OrderID"], pay_type="18") == error("M01051011|M01004002")


# ---- notifications -------------------------------------------------------------------------------------


def test_result_notification_is_retried_until_the_shop_answers_0(wallet):
    with merchant(["1", "x", "0"]) as (url, received):
        wallet.control.set_wallet_notify_url(SHOP["ShopID"], url, retries=5, interval_seconds=0.05)
        ids = wallet.approved(amount=1200)
        attempts = wait_for(lambda: [a for a in wallet.control.wallet_notifications(ids["OrderID"]) if a["ok"]]
                            and wallet.control.wallet_notifications(ids["OrderID"]))
    assert [(a["attempt"], a["answer"], a["ok"]) for a in attempts] == [(1, "1", False), (2, "x", False),
                                                                        (3, "0", True)]
    params = dict(parse_qsl(received[0].decode("ascii"), keep_blank_values=True, encoding="cp932"))
    assert list(params)[:6] == ["ShopID", "ShopPass", "AccessID", "AccessPass", "OrderID", "Status"]
    assert (params["ShopPass"], params["AccessPass"]) == ("*" * 10, "*" * 32)
    assert (params["OrderID"], params["Status"], params["JobCd"], params["Amount"], params["PayType"]) == (
        ids["OrderID"], "AUTH", "AUTH", "1200", "24")
    assert params["ErrCode"] == "" and "RcUsePoint" in params and params["Currency"] == "JPN"
    assert attempts[0]["params"] == params and len(received) == 3


def test_result_notification_gives_up_after_the_retries(wallet):
    with merchant(["1"]) as (url, received):
        wallet.control.set_wallet_notify_url(SHOP["ShopID"], url, retries=2, interval_seconds=0.02)
        ids, started = wallet.requested()
        wallet.browser(started)
        wallet.browser(started, Decision="fail")
        wait_for(lambda: len(wallet.control.wallet_notifications(ids["OrderID"])) == 3)
        time.sleep(0.1)
    attempts = wallet.control.wallet_notifications(ids["OrderID"])
    assert len(attempts) == len(received) == 3 and not any(a["ok"] for a in attempts)
    assert {a["params"]["Status"] for a in attempts} == {"PAYFAIL"}
    assert attempts[0]["params"]["ErrInfo"] == "M91099999"


def test_unreachable_notification_url_is_recorded(wallet):
    with merchant(["0"]) as (url, _):
        pass  # the port is closed again
    wallet.control.set_wallet_notify_url(SHOP["ShopID"], url, retries=0, timeout_seconds=1)
    ids = wallet.approved()
    (attempt,) = wait_for(lambda: wallet.control.wallet_notifications(ids["OrderID"]))
    assert attempt["http_status"] is None and attempt["error"] and not attempt["ok"]
    wallet.control.set_wallet_notify_url(SHOP["ShopID"], "")
    wallet.approved()
    time.sleep(0.1)
    assert len(wallet.control.wallet_notifications()) == 1  # no URL, no notification


# ---- faults, call log, control API, persistence ----------------------------------------------------------


def test_faults_apply_to_wallet_apis(wallet):
    ids = wallet.approved()
    rule = {"api": "RecruitSales", "action": "error", "err_info": "E92000001", "times": 1}
    wallet.control.set_faults(rules=[rule])
    assert wallet.op("RecruitSales", ids) == error("E92000001")
    assert wallet.status(ids["OrderID"]) == "AUTH"
    assert wallet.op("RecruitSales", ids)["Status"] == "SALES"

    wallet.control.set_faults(rules=[{"api": "RecruitCancel", "action": "drop_response", "times": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        wallet.op("RecruitCancel", ids)
    assert wallet.status(ids["OrderID"]) == "CANCEL"
    call = wallet.control.calls("RecruitCancel")[-1]
    assert (call["fault"], call["response"], call["http_status"]) == ("drop_response", None, None)

    wallet.control.set_faults(latency_ms=100, rules=[{"api": "EntryTranRecruit", "action": "delay", "seconds": 0.3}])
    began = time.monotonic()
    assert "AccessID" in wallet.entry(wallet.order_id())
    assert time.monotonic() - began >= 0.4


def test_faults_and_call_log_cover_the_start_page(wallet):
    ids, started = wallet.requested()
    wallet.control.set_faults(rules=[{"api": "RecruitStart", "action": "error", "err_info": "E91019999",
                                      "times": 1}])
    page = wallet.browser(started)
    assert page.status_code == 200 and "E91019999" in page.text
    assert wallet.status(ids["OrderID"]) == "REQSUCCESS"  # nothing applied
    wallet.browser(started)
    returned(wallet.browser(started, Decision="approve"))
    calls = wallet.control.calls()
    assert [c["api"] for c in calls] == ["EntryTranRecruit", "ExecTranRecruit", "RecruitStart",
                                         "SearchTradeMulti", "RecruitStart", "RecruitStart"]
    assert [c["fault"] for c in calls if c["api"] == "RecruitStart"] == ["error", None, None]
    assert calls[5]["params"]["Decision"] == "approve" and calls[5]["response"].startswith(RET_URL)
    assert calls[0]["params"]["ShopPass"] == "********" and SHOP["ShopPass"] not in str(calls)


def test_control_drives_the_buyer_and_patches(wallet):
    ids, _ = wallet.requested(amount=900)
    assert wallet.control.wallet_start(ids["AccessID"])["status"] == "AUTHPROCESS"
    approved = wallet.control.wallet_approve(ids["AccessID"], points=900)
    assert approved["status"] == "AUTH" and approved["location"].startswith(RET_URL)
    assert approved["fields"]["RcUsePoint"] == "900"
    with pytest.raises(requests.HTTPError):
        wallet.control.wallet_fail(ids["AccessID"])  # already approved: 409
    ids2, _ = wallet.requested()
    assert wallet.control.wallet_abandon(ids2["AccessID"])["status"] == "AUTHPROCESS"
    assert wallet.control.wallet_fail(ids2["AccessID"])["fields"]["ErrInfo"] == "M91099999"

    patched = wallet.control.patch_wallet_transaction(ids["OrderID"], status="CANCEL")
    assert patched["status"] == "CANCEL" and patched["state"] == "cancelled"
    assert wallet.op("RecruitSales", ids) == error("M01054004")
    assert wallet.control.wallet_transaction("missing") is None
    assert {t["order_id"] for t in wallet.control.wallet_transactions()} == {ids["OrderID"], ids2["OrderID"]}
    with pytest.raises(requests.HTTPError):
        wallet.control.patch_wallet_transaction(ids["OrderID"], status="NOPE")


def test_state_file_survives_restart(tmp_path):
    state_file = tmp_path / "gmo.json"
    with SandboxServer(port=0, state_file=state_file) as first:
        wallet = Wallet(first.url)
        ids = wallet.approved(amount=4321, points=21)
        wallet.control.set_wallet_notify_url(SHOP["ShopID"], "http://127.0.0.1:9/notify", retries=0)
        order_id, rc_order = ids["OrderID"], wallet.search(ids["OrderID"])["RcOrderId"]
    with SandboxServer(port=0, state_file=state_file) as second:
        wallet = Wallet(second.url)
        found = wallet.search(order_id)
        assert (found["Status"], found["Amount"], found["RcOrderId"], found["RcUsePoint"]) == (
            "AUTH", "4321", rc_order, "21")
        assert wallet.op("RecruitSales", ids)["Status"] == "SALES"
        assert wallet.control.wallet_notify_config()["shops"][SHOP["ShopID"]]["retries"] == 0


def test_reset_forgets_wallet_state(wallet):
    ids = wallet.approved()
    wallet.control.set_wallet_notify_url(SHOP["ShopID"], "http://127.0.0.1:9/notify")
    wallet.op("RecruitChange", ids, Amount="500")
    wallet.control.reset()
    assert wallet.search(ids["OrderID"]) == error("M01004002")
    assert wallet.control.wallet_transactions() == [] and wallet.control.wallet_buyer_notices() == []
    assert wallet.control.wallet_notify_config()["shops"] == {}


def test_status_words_are_configurable():
    with SandboxServer(port=0, wallet_options={"status_words": {"in_progress": "PAYSTART"}}) as srv:
        wallet = Wallet(srv.url)
        ids, started = wallet.requested()
        wallet.browser(started)
        assert wallet.status(ids["OrderID"]) == "PAYSTART"
    with pytest.raises(ValueError, match="unknown states"):
        SandboxServer(port=0, wallet_options={"status_words": {"paid": "PAYSUCCESS"}})
    with pytest.raises(ValueError, match="must differ"):
        SandboxServer(port=0, wallet_options={"status_words": {"in_progress": "AUTH"}})
