"""What the GMO sandbox wire tests share: the raw cp932 answer format and a merchant's plain HTTP client."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import requests

from gateways.sandbox.control import SandboxControl


def parse(body: bytes) -> list[tuple[str, str]]:
    """Split raw bytes on & and the first =, then decode each value as cp932 (reference §1.3)."""
    pairs = []
    for item in body.rstrip(b"\r\n").split(b"&"):
        key, _, value = item.partition(b"=")
        pairs.append((key.decode("ascii"), value.decode("cp932")))
    return pairs


class SandboxClient:
    """Posts hand-built cp932 forms to the sandbox's GMO APIs like a merchant would, plus its control API."""

    shop: dict[str, str] = {}  # ShopID and ShopPass
    entry_api = "EntryTran"
    order_prefix = "ord"

    def __init__(self, url: str):
        self.url = url
        self.control = SandboxControl(url)
        self.seq = 0

    def post_raw(self, api: str, body: str, timeout: float = 10) -> requests.Response:
        return requests.post(f"{self.url}/payment/{api}.idPass", data=body.encode("ascii"), timeout=timeout,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})

    def call(self, api: str, timeout: float = 10, **params) -> dict[str, str]:
        response = self.post_raw(api, urlencode(params, encoding="cp932"), timeout=timeout)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain;charset=Windows-31J"
        return dict(parse(response.content))

    def order_id(self) -> str:
        self.seq += 1
        return f"{self.order_prefix}-{time.time_ns() % 10**9}-{self.seq}"

    def entry(self, order_id: str, job: str = "AUTH", amount: int | None = 1000, **extra) -> dict[str, str]:
        params = {**self.shop, "OrderID": order_id, "JobCd": job, **extra}
        if amount is not None:
            params["Amount"] = str(amount)
        return self.call(self.entry_api, **params)
