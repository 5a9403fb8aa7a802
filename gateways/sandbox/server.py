"""HTTP front of the gateway sandboxes: one loopback server, a small route table, the control API.

Routes (first match wins):

* ``/payment/{Api}.idPass`` -> GMO protocol APIs, looked up in ``payment_apis`` (the card sandbox registers
  its six; a GMO wallet sandbox can register more names on the same route).
* ``/_sandbox/...`` -> JSON control API (reset, recorded calls, faults, clock, transactions, tokens, shops).
* ``/token`` -> HTML card form that hands a token back to the shop's checkout.
* ``/payment/{X}Start.idPass`` -> the redirect wallets' consent pages (``gmo_wallet``), ahead of the API route;
  ``SearchTradeMulti`` goes to the wallet sandbox for a wallet's PayType and to the card sandbox otherwise.

Another protocol (e.g. a Stripe-compatible sandbox) mounts itself with ``add_route`` plus
``reset_hooks`` / ``state_parts``; nothing here is GMO-specific except ``_mount_gmo``.
"""

import html
import json
import re
import secrets
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import SandboxClock
from .gmo_card import GmoCardSandbox, encode_pairs, error_pairs, redact_params
from .gmo_wallet import GmoWalletSandbox, Page
from .stripe_konbini import StripeKonbiniSandbox, decode_form

GMO_CONTENT_TYPE = "text/plain;charset=Windows-31J"
FAULT_ACTIONS = ("error", "drop_response", "delay")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        data = json.loads(self.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def form(self, encoding: str = "utf-8") -> dict[str, str]:
        # Form bodies are percent-encoded ASCII; latin-1 keeps stray raw bytes instead of failing.
        return dict(parse_qsl(self.body.decode("latin-1"), keep_blank_values=True, encoding=encoding))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering


def json_response(data, status: int = 200) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json")


def html_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"), "text/html; charset=utf-8")


_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>カード情報入力 / Card details (sandbox)</title>
<style>body{{font-family:sans-serif;max-width:28em;margin:2em auto}}label{{display:block;margin:.8em 0}}
input{{font-size:1.1em;width:100%}}.error{{color:#b00}}code{{word-break:break-all}}</style></head>
<body><h1>カード情報入力 <small>Card details</small></h1><p>GMO-PG sandbox — テスト用 / for testing only</p>
{body}</body></html>"""
_FORM = """{error}<form method="post" action="/token">
<label>カード番号 / Card number <input name="card_no" inputmode="numeric" autocomplete="off" required></label>
<label>有効期限 (YYMM) / Expiry (YYMM) <input name="expire" value="3012" maxlength="4" required></label>
<label>セキュリティコード / Security code <input name="security_code" value="123" maxlength="4"></label>
<input type="hidden" name="return_url" value="{return_url}">
<button type="submit">トークンを発行 / Get token</button></form>"""


def render_form(return_url: str, error: str = "") -> str:
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return _PAGE.format(body=_FORM.format(error=message, return_url=html.escape(return_url)))


def render_token(token: dict) -> str:
    body = (f'<p>トークン / Token: <code id="token">{html.escape(token["token"])}</code></p>'
            f"<p>カード / Card: {html.escape(token['masked_card_no'])}</p>")
    return _PAGE.format(body=body)


def token_redirect_url(return_url: str, token: str) -> str:
    """``return_url`` with ``token=...`` appended to whatever query it already has."""
    parts = urlsplit(return_url)
    query = "&".join(q for q in (parts.query, urlencode({"token": token})) if q)
    return urlunsplit(parts._replace(query=query))


class CallLog:
    """Every /payment call as the gateway saw it, with secrets masked (the newest ``limit`` kept)."""

    def __init__(self, clock: SandboxClock, limit: int = 10_000):
        self._clock, self._lock, self._calls, self._seq = clock, threading.Lock(), [], 0
        self._limit = limit

    def record(self, api: str, params: dict, http_status: int | None, response: str | None,
               fault: str | None) -> None:
        with self._lock:
            self._seq += 1
            self._calls.append({"seq": self._seq, "at": self._clock.now().isoformat(timespec="milliseconds"),
                                "api": api, "params": params, "http_status": http_status,
                                "response": response, "fault": fault})
            del self._calls[:-self._limit]

    def list(self, api: str | None = None) -> list[dict]:
        with self._lock:
            return [c for c in self._calls if api in (None, c["api"])]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class Faults:
    """Injected latency and per-API failures; ``times`` counts down, ``None`` means always."""

    def __init__(self, latency_ms: int = 0):
        self._default_latency = latency_ms
        self._lock = threading.Lock()
        self.clear()

    def config(self) -> dict:
        with self._lock:
            return {"latency_ms": self._latency_ms, "rules": [dict(r) for r in self._rules]}

    def configure(self, latency_ms: int = 0, rules: list | None = None) -> None:
        checked = [self._check_rule(r) for r in rules or []]
        with self._lock:
            self._latency_ms, self._rules = int(latency_ms or 0), checked

    def clear(self) -> None:
        with self._lock:
            self._latency_ms, self._rules = self._default_latency, []

    def latency(self) -> float:
        return self._latency_ms / 1000

    def take(self, api: str, params: dict[str, str]) -> dict | None:
        """The first rule matching this call, counting one use of it."""
        with self._lock:
            for rule in self._rules:
                if rule.get("api") not in (None, "*", api):
                    continue
                if rule.get("job_cd") not in (None, params.get("JobCd")):
                    continue
                if rule.get("times") is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                return dict(rule)
        return None

    @staticmethod
    def _check_rule(rule: dict) -> dict:
        if not isinstance(rule, dict) or rule.get("action") not in FAULT_ACTIONS:
            raise ValueError(f"each rule needs an action among {FAULT_ACTIONS}: {rule!r}")
        rule = dict(rule)
        if rule["action"] == "error":
            rule.setdefault("err_info", "E91019999")
            rule.setdefault("err_code", rule["err_info"][:3])
        if rule["action"] == "delay":
            rule["seconds"] = float(rule.get("seconds", 1))
        if rule.get("times") is not None:
            rule["times"] = int(rule["times"])
        return rule


class _Handler(BaseHTTPRequestHandler):
    server_version = "GatewaySandbox/1.0"

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                          dict(self.headers.items()), self.rfile.read(length) if length else b"")
        response = self.server.app.dispatch(request)
        if response.drop:
            self.close_connection = True  # nothing written: the client sees the connection closed
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format, *args):
        if self.server.app.verbose:
            super().log_message(format, *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections under parallel tests
    block_on_close = False  # a "slow card" sleeper must not hold up stop()
    app: "SandboxServer"

    def handle_error(self, request, client_address):
        # A client that gave up (its timeout, in the timeout tests) is the expected case, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


Handler = Callable[..., Response]


class SandboxServer:
    """``SandboxServer(port=0).start()`` serves in a daemon thread; ``url`` tells where.

    ``sandbox_options`` go to ``GmoCardSandbox`` (auth_validity_days, strict_cancel_jobs, slow_seconds,
    open_shops, shops, token_ttl_seconds). ``latency_ms`` is the baseline latency that reset restores.
    ``wallet_options`` go to ``GmoWalletSandbox`` (auth_validity_days, auth_extension_days, payment_term_seconds,
    status_words, notify_*); ``public_url`` is the base of the wallets' StartURL (default: ``url``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state_file: str | Path | None = None,
                 latency_ms: int = 0, verbose: bool = False, wallet_options: dict | None = None,
                 public_url: str | None = None, **sandbox_options):
        self.verbose = verbose
        self.clock = SandboxClock()
        self.card = GmoCardSandbox(clock=self.clock, **sandbox_options)
        self.wallet = GmoWalletSandbox(check_shop=self._wallet_shop, clock=self.clock, **(wallet_options or {}))
        self.calls = CallLog(self.clock)
        self.faults = Faults(latency_ms)
        self.routes: list[tuple[tuple[str, ...] | None, re.Pattern, Handler]] = []
        self.payment_apis: dict[str, Callable[[str, dict[str, str]], list[tuple[str, str]]]] = {}
        self.reset_hooks: list[Callable[[], None]] = [self.card.reset, self.wallet.reset, self.calls.clear,
                                                      self.faults.clear, self.clock.reset]
        # name -> object with to_state() / load_state()
        self.state_parts = {"gmo_card": self.card, "gmo_wallet": self.wallet}
        # Stripe-compatible konbini subset under /v1 (gateways/sandbox/stripe_konbini.py).
        self.stripe = StripeKonbiniSandbox(clock=self.clock)
        self.reset_hooks.append(self.stripe.reset)
        self.state_parts["stripe_konbini"] = self.stripe
        self.state_file = Path(state_file) if state_file else None
        self._save_lock = threading.Lock()
        self._load_state()
        self.card.on_change = self.save_state
        self.wallet.on_change = self.save_state
        self._mount_gmo()
        self._mount_control()
        self._mount_wallet()
        self._mount_stripe()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self
        self.wallet.base_url = public_url or self.url
        self.stripe.base_url = public_url or self.url
        self.stripe.on_change = self.save_state
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gateway-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- routing -------------------------------------------------------------------------------------

    def add_route(self, methods: str | None, pattern: str, handler: Handler) -> None:
        """``methods`` like "GET POST" (None = any); named groups of ``pattern`` become handler kwargs."""
        self.routes.append((tuple(methods.split()) if methods else None, re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for methods, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if not match:
                continue
            if methods and request.method not in methods:
                allowed += methods
                continue
            try:
                return handler(request, **match.groupdict())
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            except Exception as exc:  # the sandbox must keep serving; show what broke
                traceback.print_exc(file=sys.stderr)
                return json_response({"error": f"{type(exc).__name__}: {exc}"}, 500)
        if allowed:
            return json_response({"error": f"method not allowed; use {' '.join(allowed)}"}, 405)
        return json_response({"error": f"no route for {request.path}"}, 404)

    # ---- GMO protocol ------------------------------------------------------------------------------

    def _mount_gmo(self) -> None:
        for name in self.card.API_NAMES:
            self.payment_apis[name] = self.card.handle
        self.add_route(None, r"/payment/(?P<api>[^/]+)\.idPass", self._payment)
        self.add_route("GET POST", r"/token", self._token_page)

    def _payment(self, request: Request, api: str) -> Response:
        if request.method != "POST":
            return self._gmo_reply(api, {}, error_pairs("E00000001"))  # HTTP method is not POST
        params = request.form(encoding="cp932")
        redacted = redact_params(params)
        if self.faults.latency():
            time.sleep(self.faults.latency())
        rule = self.faults.take(api, params)
        if rule and rule["action"] == "error":  # refused before anything is applied
            pairs = [("ErrCode", rule["err_code"]), ("ErrInfo", rule["err_info"])]
            return self._gmo_reply(api, redacted, pairs, fault="error")
        handler = self.payment_apis.get(api)
        pairs = handler(api, params) if handler else error_pairs("E91099997")  # API does not exist
        if rule and rule["action"] == "drop_response":  # applied, but the answer is lost
            self.calls.record(api, redacted, None, None, "drop_response")
            return Response(drop=True)
        if rule and rule["action"] == "delay":
            # Recorded when applied, like the real gateway: the slow part is only the answer.
            reply = self._gmo_reply(api, redacted, pairs, fault="delay")
            time.sleep(rule["seconds"])
            return reply
        return self._gmo_reply(api, redacted, pairs, fault=rule and rule["action"])

    def _gmo_reply(self, api: str, params: dict, pairs: list[tuple[str, str]], fault: str | None = None):
        body = encode_pairs(pairs)
        self.calls.record(api, params, 200, body.decode("cp932", errors="replace"), fault)
        return Response(200, body, GMO_CONTENT_TYPE)

    def _token_page(self, request: Request) -> Response:
        if request.method == "GET":
            return html_response(render_form(request.query.get("return_url", "")))
        form = request.form()
        return_url = form.get("return_url", "")
        try:
            token = self.card.create_token(form.get("card_no", ""), form.get("expire", ""),
                                           form.get("security_code", ""))
        except ValueError as exc:
            return html_response(render_form(return_url, error=str(exc)), 400)
        if return_url:
            return Response(303, headers=[("Location", token_redirect_url(return_url, token["token"]))],
                            content_type="text/plain")
        return html_response(render_token(token))

    # ---- control API -------------------------------------------------------------------------------

    def _mount_control(self) -> None:
        add = self.add_route
        add("POST", r"/_sandbox/reset", self._reset)
        add("GET DELETE", r"/_sandbox/calls", self._calls)
        add("GET POST DELETE", r"/_sandbox/faults", self._faults)
        add("GET POST", r"/_sandbox/clock", self._clock)
        add("GET", r"/_sandbox/transactions", lambda r: json_response(self.card.transactions()))
        add("GET POST", r"/_sandbox/transactions/(?P<order_id>[^/]+)", self._transaction)
        add("POST", r"/_sandbox/tokens", self._tokens)
        add("GET POST", r"/_sandbox/shops", self._shops)

    def _reset(self, request: Request) -> Response:
        for hook in self.reset_hooks:
            hook()
        self.save_state()
        return json_response({"ok": True})

    def _calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.calls.clear()
            return json_response({"ok": True})
        return json_response(self.calls.list(request.query.get("api")))

    def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.json()
            self.faults.configure(data.get("latency_ms", 0), data.get("rules", []))
        elif request.method == "DELETE":
            self.faults.clear()
        return json_response(self.faults.config())

    def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.json()
            if "now" in data:
                self.clock.set_now(datetime.fromisoformat(data["now"]))
            if "offset_seconds" in data:
                self.clock.set_offset(data["offset_seconds"])
            if "advance_seconds" in data:
                self.clock.advance(data["advance_seconds"])
            self.save_state()
        return json_response({
            "now": self.clock.now().isoformat(),
            "offset_seconds": self.clock.offset_seconds,
        })

    def _transaction(self, request: Request, order_id: str) -> Response:
        shop_id = request.query.get("shop_id")
        if request.method == "POST":
            found = self.card.patch_transaction(order_id, request.json(), shop_id=shop_id)
        else:
            found = self.card.transaction(order_id, shop_id=shop_id)
        if found is None:
            return json_response({"error": f"no transaction for OrderID {order_id}"}, 404)
        return json_response(found)

    def _tokens(self, request: Request) -> Response:
        data = request.json()
        token = self.card.create_token(str(data.get("card_no", "")), str(data.get("expire", "3012")),
                                       str(data.get("security_code", "")))
        return json_response(token)

    def _shops(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.json()
            self.card.register_shop(str(data.get("shop_id", "")), str(data.get("shop_pass", "")))
            return json_response({"ok": True, "shop_id": data["shop_id"]})
        return json_response({"shop_ids": self.card.shop_ids()})

    # ---- GMO redirect wallets ------------------------------------------------------------------------

    def _mount_wallet(self) -> None:
        for name in self.wallet.api_names:
            self.payment_apis[name] = self.wallet.handle
        self.payment_apis["SearchTradeMulti"] = self._search_trade_multi
        starts = "|".join(re.escape(name) for name in self.wallet.start_names)
        # Ahead of the generic /payment/{Api}.idPass route, which would answer with a GMO error line.
        self.routes.insert(0, (None, re.compile(rf"/payment/(?P<api>{starts})\.idPass"), self._wallet_start))
        add = self.add_route
        add("GET", r"/_sandbox/wallet/transactions", lambda r: json_response(self.wallet.transactions()))
        add("GET POST", r"/_sandbox/wallet/transactions/(?P<order_id>[^/]+)", self._wallet_transaction)
        add("POST", r"/_sandbox/wallet/browser/(?P<access_id>[0-9a-fA-F]{32})/(?P<action>[a-z]+)",
            self._wallet_browser)
        add("GET POST", r"/_sandbox/wallet/notify", self._wallet_notify)
        add("GET", r"/_sandbox/wallet/notifications",
            lambda r: json_response(self.wallet.notifier.attempts(r.query.get("order_id"))))
        add("GET", r"/_sandbox/wallet/buyer-notices",
            lambda r: json_response(self.wallet.buyer_notices(r.query.get("order_id"))))

    def _wallet_shop(self, params: dict[str, str]) -> str:
        """Wallet APIs check ShopID/ShopPass against the card sandbox's shop registry, with M01 codes."""
        with self.card._lock:
            return self.card._shop(params, family="M01")

    def _search_trade_multi(self, api: str, params: dict[str, str]) -> list[tuple[str, str]]:
        """A wallet's PayType goes to the wallet sandbox, except for an OrderID known only as a card order:
        the card sandbox then answers M01051011 (PayType does not fit the order [?]) as it always did."""
        order_id, shop_id = params.get("OrderID", ""), params.get("ShopID", "")
        card_order = (self.card.transaction(order_id, shop_id=shop_id) is not None
                      and self.wallet.transaction(order_id, shop_id=shop_id) is None)
        owner = self.wallet if self.wallet.handles_pay_type(params.get("PayType", "")) and not card_order else self.card
        return owner.handle(api, params)

    def _wallet_start(self, request: Request, api: str) -> Response:
        """The browser at StartURL: same latency, faults and call log as the APIs."""
        if request.method != "POST":
            return html_response("<!doctype html><p>POST AccessID and Token here. / "
                                 "AccessIDとTokenをPOSTしてください。</p>", 405)
        form = request.form(encoding="cp932")
        redacted = redact_params(form)
        if self.faults.latency():
            time.sleep(self.faults.latency())
        rule = self.faults.take(api, form)
        if rule and rule["action"] == "error":  # refused before anything is applied
            self.calls.record(api, redacted, 200, f"ErrCode={rule['err_code']}&ErrInfo={rule['err_info']}",
                              "error")
            return html_response(f"<!doctype html><p>エラーが発生しました / An error occurred: "
                                 f"<code>{html.escape(rule['err_info'])}</code></p>")
        page = self.wallet.browser(api, form)
        if rule and rule["action"] == "drop_response":  # applied, but the browser sees nothing
            self.calls.record(api, redacted, None, None, "drop_response")
            return Response(drop=True)
        self.calls.record(api, redacted, page.status, page.location or page.error or "html page",
                          rule and rule["action"])
        if rule and rule["action"] == "delay":
            time.sleep(rule["seconds"])
        return self._page_response(page)

    @staticmethod
    def _page_response(page: Page) -> Response:
        if page.location:
            return Response(303, headers=[("Location", page.location)], content_type="text/plain")
        return html_response(page.html, page.status)

    def _wallet_transaction(self, request: Request, order_id: str) -> Response:
        shop_id = request.query.get("shop_id")
        if request.method == "POST":
            found = self.wallet.patch_transaction(order_id, request.json(), shop_id=shop_id)
        else:
            found = self.wallet.transaction(order_id, shop_id=shop_id)
        if found is None:
            return json_response({"error": f"no wallet transaction for OrderID {order_id}"}, 404)
        return json_response(found)

    def _wallet_browser(self, request: Request, access_id: str, action: str) -> Response:
        """What a buyer would click on the consent page, for tests and demos without a browser."""
        result = self.wallet.browser_action(access_id, action, request.json())
        return json_response(result, 200 if result["http_status"] < 400 else 409)

    def _wallet_notify(self, request: Request) -> Response:
        if request.method == "POST":
            data = dict(request.json())
            shop_id, url = str(data.pop("shop_id", "")), str(data.pop("url", "") or "")
            if not shop_id:
                raise ValueError("shop_id is required")
            self.wallet.notifier.configure(shop_id, url, **data)
            self.save_state()
        return json_response(self.wallet.notifier.config())

    # ---- Stripe-compatible konbini (gateways/sandbox/stripe_konbini.py) ------------------------------

    # (method, path pattern, operation name); the operation name is also the call-log ``api`` and fault key.
    STRIPE_ROUTES = (
        ("POST", r"/v1/payment_intents", "payment_intents.create"),
        ("GET", r"/v1/payment_intents/(?P<object_id>pi_[^/]+)", "payment_intents.retrieve"),
        ("POST", r"/v1/payment_intents/(?P<object_id>pi_[^/]+)/confirm", "payment_intents.confirm"),
        ("POST", r"/v1/payment_intents/(?P<object_id>pi_[^/]+)/cancel", "payment_intents.cancel"),
        ("POST", r"/v1/refunds", "refunds.create"),
        ("GET", r"/v1/events", "events.list"),
        ("GET", r"/v1/events/(?P<object_id>[^/]+)", "events.retrieve"),
    )

    def _mount_stripe(self) -> None:
        for method, pattern, op in self.STRIPE_ROUTES:
            # "//v1/..." from a base URL with a trailing slash is tolerated, as Python's http.server does.
            self.add_route(method, "/?" + pattern, lambda r, _op=op, **kw: self._stripe_api(r, _op, **kw))
        add = self.add_route
        add("GET POST", r"/_sandbox/stripe/keys", self._stripe_keys)
        add("GET POST", r"/_sandbox/stripe/webhook", self._stripe_webhook)
        add("POST", r"/_sandbox/stripe/webhook/hold", lambda r: self._stripe_json(self._stripe_hold))
        add("POST", r"/_sandbox/stripe/webhook/release",
            lambda r: self._stripe_json(lambda: {"released": self.stripe.webhooks.release(
                r.json().get("order", "fifo"))}))
        add("GET", r"/_sandbox/stripe/deliveries",
            lambda r: json_response(self.stripe.webhooks.attempts(r.query.get("event_id"))))
        add("GET", r"/_sandbox/stripe/events", lambda r: self._stripe_json(
            lambda: self.stripe.event_list(r.query.get("api_key"))))
        add("POST", r"/_sandbox/stripe/events/(?P<evt_id>evt_[^/]+)/redeliver", self._stripe_redeliver)
        add("POST", r"/_sandbox/stripe/tick", lambda r: self._stripe_json(lambda: {"ok": True}))
        add("GET", r"/_sandbox/stripe/payment_intents/(?P<pi_id>pi_[^/]+)", lambda r, pi_id: self._stripe_json(
            lambda: self.stripe.intent(pi_id) or self._stripe_missing(pi_id)))
        add("POST", r"/_sandbox/stripe/payment_intents/(?P<pi_id>pi_[^/]+)/(?P<action>pay|expire|paying)",
            self._stripe_intent_action)
        add("GET", r"/_sandbox/stripe/vouchers/(?P<pi_id>pi_[^/]+)/(?P<voucher>[^/]+)", self._stripe_voucher)

    def _stripe_api(self, request: Request, op: str, object_id: str = "") -> Response:
        """Decode the form body / query like Stripe, run the operation, answer JSON with a Request-Id."""
        if request.method == "POST":
            pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        else:
            pairs = list(request.query.items())
        params = decode_form(pairs)
        if self.faults.latency():
            time.sleep(self.faults.latency())
        rule = self.faults.take(op, {})
        if rule and rule["action"] == "error":  # refused before anything is applied, Stripe-shaped 500
            body = {"error": {"type": "api_error", "message": "Sandbox fault: an error occurred on our side."}}
            self.calls.record(op, dict(pairs), 500, json.dumps(body), "error")
            return self._stripe_response(500, body, [("Stripe-Should-Retry", "false")])
        status, body, headers = self.stripe.api(op, request.headers, params, object_id)
        if rule and rule["action"] == "drop_response":  # applied, but the answer is lost
            self.calls.record(op, dict(pairs), None, None, "drop_response")
            return Response(drop=True)
        self.calls.record(op, dict(pairs), status, json.dumps(body, ensure_ascii=False)[:2000],
                          rule and rule["action"])
        if rule and rule["action"] == "delay":
            time.sleep(rule["seconds"])
        return self._stripe_response(status, body, headers)

    @staticmethod
    def _stripe_response(status: int, body: dict, headers: list) -> Response:
        response = json_response(body, status)
        response.headers = [("Request-Id", "req_" + secrets.token_hex(7)), ("Stripe-Version", "sandbox"),
                            *headers]
        return response

    def _stripe_json(self, produce) -> Response:
        """A control answer; runs the expiry sweep first so a moved clock takes effect before reading."""
        self.stripe.sweep()
        try:
            return json_response(produce())
        except LookupError as exc:
            return json_response({"error": str(exc)}, 404)

    @staticmethod
    def _stripe_missing(pi_id: str):
        raise LookupError(f"no PaymentIntent {pi_id}")

    def _stripe_hold(self) -> dict:
        self.stripe.webhooks.hold()
        return {"holding": True}

    def _stripe_keys(self, request: Request) -> Response:
        if request.method == "POST":
            key = str(request.json().get("api_key", ""))
            if not key.startswith("sk_test_"):
                raise ValueError("api_key must start with sk_test_")
            self.stripe.keys.add(key)
            self.save_state()
        return json_response({"count": len(self.stripe.keys)})  # the keys themselves are never echoed

    def _stripe_webhook(self, request: Request) -> Response:
        if request.method == "POST":
            data = dict(request.json())
            account = str(data.pop("api_key", "") or self.stripe.default_keys[0])
            url, secret = str(data.pop("url", "") or ""), str(data.pop("secret", "") or "")
            self.stripe.webhooks.configure(account, url, secret, **data)
            self.save_state()
        return json_response(self.stripe.webhooks.config())

    def _stripe_redeliver(self, request: Request, evt_id: str) -> Response:
        data = request.json()
        self.stripe.redeliver(evt_id, int(data.get("times", 1)), bool(data.get("parallel", False)))
        return json_response({"ok": True})

    def _stripe_intent_action(self, request: Request, pi_id: str, action: str) -> Response:
        data = request.json()
        try:
            if action == "pay":
                intent = self.stripe.pay(pi_id, str(data.get("store", "familymart")))
            elif action == "expire":
                intent = self.stripe.expire(pi_id)
            else:
                intent = self.stripe.set_paying(pi_id, bool(data.get("on", True)))
        except LookupError as exc:
            return json_response({"error": str(exc)}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 409)
        return json_response(intent)

    def _stripe_voucher(self, request: Request, pi_id: str, voucher: str) -> Response:
        """A local stand-in for Stripe's hosted voucher page (no external links)."""
        intent = self.stripe.voucher(pi_id, voucher)
        if not intent:
            return html_response("<!doctype html><p>この払込票は無効です / This voucher is no longer valid.</p>", 404)
        details = intent["next_action"]["konbini_display_details"]
        rows = "".join(f"<tr><td>{html.escape(store)}</td><td>{html.escape(s['payment_code'])}</td>"
                       f"<td>{html.escape(s['confirmation_number'] or '')}</td></tr>"
                       for store, s in details["stores"].items())
        deadline = datetime.fromtimestamp(details["expires_at"], self.clock.now().tzinfo).strftime("%Y-%m-%d %H:%M")
        return html_response(f"<!doctype html><html lang='ja'><meta charset='utf-8'><title>払込票 (sandbox)</title>"
                             f"<h1>コンビニ払込票 / Konbini voucher (sandbox)</h1><p>¥{intent['amount']:,} — "
                             f"期限 / due {deadline} JST</p><table><tr><th>store</th><th>payment code</th>"
                             f"<th>confirmation number</th></tr>{rows}</table></html>")

    # ---- persistence -------------------------------------------------------------------------------

    def save_state(self) -> None:
        """Write every part's state atomically (temp file + rename) so a crash never leaves half a file."""
        if not self.state_file:
            return
        with self._save_lock:
            state = {"clock_offset": self.clock.offset_seconds,
                     **{name: part.to_state() for name, part in self.state_parts.items()}}
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.state_file.parent,
                                             prefix=self.state_file.name, suffix=".tmp", delete=False) as tmp:
                json.dump(state, tmp, ensure_ascii=False, indent=1)
            Path(tmp.name).replace(self.state_file)

    def _load_state(self) -> None:
        if not self.state_file or not self.state_file.exists() or not self.state_file.stat().st_size:
            return
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.clock.set_offset(state.get("clock_offset", 0))
        for name, part in self.state_parts.items():
            if name in state:
                part.load_state(state[name])
