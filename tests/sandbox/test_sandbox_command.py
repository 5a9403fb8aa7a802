"""`manage.py run_gateway_sandbox` starts a real server process that our adapter can use."""

import socket
import subprocess
import sys
import time

import requests

from gateways.gmo.card import GmoCardGateway
from gateways.gmo.protocol import GmoClient
from gateways.sandbox.control import SandboxControl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_serves_the_protocol(tmp_path):
    port = free_port()
    state = tmp_path / "state.json"
    proc = subprocess.Popen([sys.executable, "manage.py", "run_gateway_sandbox", "--port", str(port),
                             "--state-file", str(state)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/_sandbox/clock", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        gateway = GmoCardGateway(GmoClient(url, "tshop00000077", "pw77", timeout=5))
        ref = gateway.entry("CMD-0001", "AUTH", 1500)
        result = gateway.execute(ref, SandboxControl(url).create_token("4111111111111111"), "AUTH", 1500)
        assert result.approve and gateway.search("CMD-0001").status == "AUTH"
        assert state.exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
