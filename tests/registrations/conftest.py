from tests.konbini.conftest import konbini_shop  # noqa: F401  (the shop with a Stripe account at the sandbox)
