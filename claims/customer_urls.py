"""The customer's claim pages, under /claims/ (signed per-order links: see claims.customer_links)."""

from django.urls import path

from claims import customer_views as views

app_name = "claims_customer"

urlpatterns = [
    path("order/<str:token>/", views.order_page, name="order"),
    path("order/<str:token>/cancel/", views.cancel_order, name="cancel"),
    path("order/<str:token>/withdraw/", views.withdraw_request, name="withdraw"),
]
