"""Cursor pagination on the primary key: stable under inserts and cheap at any depth (no OFFSET)."""

from rest_framework.pagination import CursorPagination


class NewestFirstCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
