"""Bulk runs in the admin: a list scoped to the user's shops, and each run's progress page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from bulk import views
from bulk.csv_export import run_csv_response
from bulk.models import BulkRun
from shops.admin_scoping import ShopScopedAdmin


@admin.register(BulkRun)
class BulkRunAdmin(ShopScopedAdmin):
    list_display = ["__str__", "kind", "status", "description", "actor_label", "created_at", "finished_at"]
    list_filter = ["kind", "status"]

    def get_queryset(self, request):
        # Scoped through the run's shops (not a single `shop` field): a run touching any shop the user
        # does not belong to is not theirs to see.
        return admin.ModelAdmin.get_queryset(self, request).visible_to(request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/status.json", view(self.status_view), name="bulk_bulkrun_status"),
            path("<int:object_id>/items.csv", view(self.csv_view), name="bulk_bulkrun_csv"),
            path("<int:object_id>/resume/", view(self.resume_view), name="bulk_bulkrun_resume"),
            *super().get_urls(),
        ]

    def _run(self, request, object_id) -> BulkRun:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.get_object(request, object_id)  # 404 for another shop's run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return views.progress_view(self, request, self._run(request, object_id))

    def status_view(self, request, object_id):
        return views.status_view(self._run(request, object_id))

    def csv_view(self, request, object_id):
        return run_csv_response(self._run(request, object_id))

    def resume_view(self, request, object_id):
        return views.resume_view(request, self._run(request, object_id))
