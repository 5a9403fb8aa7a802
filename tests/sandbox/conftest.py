import pytest

from gateways.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def server():
    """A sandbox of the module's own (the wire tests set its clock and faults freely)."""
    srv = SandboxServer(port=0).start()
    yield srv
    srv.stop()
