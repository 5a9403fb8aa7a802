"""The client address behind trusted proxies: the outermost proxy's entry, never something that is not an address."""

import pytest
from django.test import RequestFactory

from payments_admin.client_ip import client_ip


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "192.0.2.1", "10.0.0.1"),  # no proxy trusted: the connection
    (1, "192.0.2.1, 203.0.113.5", "203.0.113.5"),  # the entry our proxy appended
    (2, "192.0.2.1, 203.0.113.5", "192.0.2.1"),
    (2, "203.0.113.5", "10.0.0.1"),  # came around a proxy: the connection
    (1, "x", "10.0.0.1"),  # not an address (would break the address columns): the connection
    (1, "1.2.3.4' OR 1=1", "10.0.0.1"),
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_client_ip(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
