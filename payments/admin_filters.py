"""Filters of the payment list (status, method and shop come from the model)."""

PAYMENT_LIST_FILTERS = ["status", "method", "shop"]
