import pytest


@pytest.fixture(autouse=True)
def inline_gateway_reads(settings):
    # Worker threads have their own connections and cannot see a test transaction's rows; tests that
    # commit (transaction=True) pass `workers=` explicitly to exercise the threads.
    settings.BATCH_GATEWAY_CONCURRENCY = 1
