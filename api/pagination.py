"""Cursor pagination on the primary key: stable under inserts and cheap at any depth (no OFFSET).

Bad paging input is a 400 naming the parameter, like a bad filter: a `page_size` that is not an integer in
1..max_page_size (DRF would silently fall back to the default), and a `cursor` that is not one we issued
(DRF answers 404 for some and, for a forged position, lets the database fail with a 500).
"""

from __future__ import annotations

import re

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

PAGE_SIZE_PATTERN = re.compile(r"^[0-9]{1,6}$")
# A position on the primary key is a bigint at most.
MAX_POSITION = 2**63 - 1


class NewestFirstCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = values[-1]
        if len(values) > 1 or not PAGE_SIZE_PATTERN.match(value) or not 1 <= int(value) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"A whole number from 1 to {self.max_page_size}, given once."]})
        return int(value)

    def decode_cursor(self, request):
        if len(request.query_params.getlist(self.cursor_query_param)) > 1:
            raise self._invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid_cursor() from None
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        if cursor is not None and cursor.position is not None and ordering.lstrip("-") in ("id", "pk"):
            if not re.fullmatch(r"[0-9]{1,19}", cursor.position) or int(cursor.position) > MAX_POSITION:
                raise self._invalid_cursor()
        return cursor

    def _invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: ["Invalid cursor: use the `next` or `previous` link as is."]})

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
