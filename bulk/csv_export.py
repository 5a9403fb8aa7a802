"""The per-item report of a run as CSV: streamed (a 100k-item run never sits in memory), UTF-8 with a
BOM so Excel opens the Japanese text correctly."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from bulk.models import BulkRun
from bulk.selectors import item_rows, labelled, state_labels

READ_CHUNK = 2000


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula would be evaluated by Excel: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def run_csv_response(run: BulkRun) -> StreamingHttpResponse:
    # Labels resolved now, in the request's language: the body is produced after the view returns.
    header = [_("OrderID"), _("reference"), _("result"), _("gateway job"), _("gateway error code"), _("message"),
              _("processed at")]
    states = state_labels()
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in item_rows(run).iterator(chunk_size=READ_CHUNK):
            row = labelled(row, states)
            processed = timezone.localtime(row["processed_at"]).isoformat() if row["processed_at"] else ""
            yield writer.writerow([_cell(v) for v in (row["order_id"], row["reference"], row["state_label"],
                                                      row["job_label"], row["gateway_code"], row["message"],
                                                      processed)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-run-{run.pk}.csv"'
    return response
