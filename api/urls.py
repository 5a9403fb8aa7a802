from django.urls import path

from api import claims_views, views

app_name = "api"

urlpatterns = [
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/cancel/", claims_views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<int:pk>/claims/", claims_views.OrderClaimsView.as_view(), name="order-claims"),
    path("payments/", views.PaymentListView.as_view(), name="payment-list"),
    path("payments/<int:pk>/", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<int:pk>/capture/", views.CaptureView.as_view(), name="payment-capture"),
    path("payments/<int:pk>/cancel/", views.CancelView.as_view(), name="payment-cancel"),
    path("payments/<int:pk>/change-amount/", views.ChangeAmountView.as_view(), name="payment-change-amount"),
    path("payments/<int:pk>/reauthorize/", views.ReauthorizeView.as_view(), name="payment-reauthorize"),
    path("payments/<int:pk>/sync/", views.SyncView.as_view(), name="payment-sync"),
    path("claims/<int:pk>/withdraw/", claims_views.ClaimWithdrawView.as_view(), name="claim-withdraw"),
]
