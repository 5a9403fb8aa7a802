"""The buyer's checkout pages, under /checkout/<signed token>/ (see orders.checkout_links)."""

from django.urls import path

from orders import checkout_views as views

app_name = "checkout"

urlpatterns = [
    path("<str:token>/", views.checkout_page, name="page"),
    path("<str:token>/start/", views.start_wallet, name="start"),
    path("<str:token>/return/", views.wallet_return, name="return"),
    path("<str:token>/pay-again/", views.pay_again, name="pay_again"),
    path("<str:token>/card-return/", views.card_return, name="card_return"),
]
