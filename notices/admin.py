from django.contrib import admin

from notices.models import Notice
from shops.admin_scoping import ShopScopedAdmin


@admin.register(Notice)
class NoticeAdmin(ShopScopedAdmin):
    list_display = ["created_at", "kind", "subject", "shop", "sent_at", "attempts", "last_error"]
    list_filter = ["kind"]
    search_fields = ["subject", "key"]
    list_select_related = ["shop"]
    readonly_fields = ["key", "shop", "kind", "recipients", "subject", "body", "created_at", "sent_at", "attempts",
                       "last_error"]
    fields = readonly_fields
