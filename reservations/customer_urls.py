"""The customer's reservation pages, under /reserve/ (signed tokens: see reservations.customer_links)."""

from django.urls import path

from reservations import customer_views as views

app_name = "reserve"

urlpatterns = [
    path("event/<str:token>/", views.event_page, name="event"),
    path("done/<str:token>/", views.done_page, name="done"),
    path("pay/<str:token>/", views.pay_page, name="pay"),
]
