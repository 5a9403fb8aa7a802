from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from payments.notification_views import gmo_result_notification
from payments.stripe_webhook_views import stripe_webhook

# An unmatched /api/ path answers with the API's JSON error body (its schema says so), other paths as usual.
handler404 = "api.handlers.page_not_found"
handler500 = "api.handlers.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # The buyer's pages (signed links) and the PG's result notification: no login, no admin.
    path("checkout/", include("orders.checkout_urls")),
    path("reserve/", include("reservations.customer_urls")),
    path("claims/", include("claims.customer_urls")),
    path("gateways/gmo/notify/", gmo_result_notification, name="gmo-notify"),
    path("gateways/stripe/webhook/<slug:shop_code>/", stripe_webhook, name="stripe-webhook"),
]
