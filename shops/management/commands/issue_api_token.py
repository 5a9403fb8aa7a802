from django.core.management.base import BaseCommand, CommandError

from shops.api_scopes import ALL_SCOPES, clean_scopes
from shops.models import Shop, ShopApiToken


class Command(BaseCommand):
    help = "Issue an API token for a shop. The raw token is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("shop_code")
        parser.add_argument("name")
        parser.add_argument("--scopes", default="read",
                            help=f"comma-separated, from: {', '.join(ALL_SCOPES)}; 'all' for every scope "
                                 "(default: read)")

    def handle(self, shop_code, name, scopes, **options):
        shop = Shop.objects.filter(code=shop_code).first()
        if shop is None:
            raise CommandError(f"no shop with code {shop_code!r}")
        wanted = ALL_SCOPES if scopes == "all" else [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            wanted = clean_scopes(wanted)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        _, raw = ShopApiToken.issue(shop, name, scopes=wanted)
        self.stdout.write(raw)
