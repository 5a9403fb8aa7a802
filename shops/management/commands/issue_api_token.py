from django.core.management.base import BaseCommand, CommandError

from shops.models import Shop, ShopApiToken


class Command(BaseCommand):
    help = "Issue an API token for a shop. The raw token is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("shop_code")
        parser.add_argument("name")

    def handle(self, shop_code, name, **options):
        shop = Shop.objects.filter(code=shop_code).first()
        if shop is None:
            raise CommandError(f"no shop with code {shop_code!r}")
        _, raw = ShopApiToken.issue(shop, name)
        self.stdout.write(raw)
