from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shops.api_scopes import Scope, clean_scopes
from shops.models import Shop, ShopApiToken, ShopMembership
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can


class ShopForm(forms.ModelForm):
    # Write-only: the stored password is never rendered back into the page.
    gmo_shop_pass = forms.CharField(
        label=_("GMO shop password"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the current password. It is stored encrypted and never shown."))

    gmo_base_url = forms.URLField(label=_("GMO base URL (override)"), required=False, assume_scheme="https")
    stripe_secret_key = forms.CharField(
        label=_("Stripe secret key"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("sk_live_… or sk_test_…. Leave empty to keep the current key. Stored encrypted, never shown."))
    stripe_webhook_secret = forms.CharField(
        label=_("Stripe webhook signing secret"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("whsec_…, from the webhook endpoint registered at Stripe. Leave empty to keep the current one."))
    stripe_base_url = forms.URLField(label=_("Stripe API base URL (override)"), required=False,
                                     assume_scheme="https")

    class Meta:
        model = Shop
        fields = ["name", "code", "capture_mode", "authorization_validity_days", "expiry_warning_days",
                  "wallet_checkout_enabled", "wallet_auth_extension_enabled", "gmo_shop_id", "gmo_base_url",
                  "stripe_base_url", "konbini_expires_after_days", "konbini_refunds_via_stripe",
                  "receipt_issuer_name", "receipt_registration_number"]

    def save(self, commit=True):
        shop = super().save(commit=False)
        if self.cleaned_data.get("gmo_shop_pass"):
            shop.set_gmo_shop_pass(self.cleaned_data["gmo_shop_pass"])
        if self.cleaned_data.get("stripe_secret_key"):
            shop.set_stripe_secret_key(self.cleaned_data["stripe_secret_key"])
        if self.cleaned_data.get("stripe_webhook_secret"):
            shop.set_stripe_webhook_secret(self.cleaned_data["stripe_webhook_secret"])
        if commit:
            shop.save()
        return shop


class MembershipInline(admin.TabularInline):
    model = ShopMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    form = ShopForm
    list_display = ["code", "name", "capture_mode", "authorization_validity_days", "credentials_set"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "authorization_validity_days" in form.changed_data:
            # The stored expiry drives the expiry batch and the "expiring" lists: keep it true to the setting.
            from payments.services import recompute_authorization_expiry

            recompute_authorization_expiry(obj)

    @admin.display(description=_("GMO credentials"), boolean=True)
    def credentials_set(self, obj):
        return obj.has_gmo_credentials

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=shops_for_user(request.user))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.memberships.exists()

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        return obj is not None and user_can(request.user, obj.pk, Perm.SETTINGS)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


class ShopApiTokenForm(forms.ModelForm):
    """Scopes as checkboxes, and revocation; the raw key is never here (shown once by issue_api_token)."""

    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=Scope.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple)
    revoke = forms.BooleanField(label=_("Revoke this token"), required=False,
                                help_text=_("A revoked token is refused at once and cannot be restored."))

    class Meta:
        model = ShopApiToken
        fields = ["name", "scopes"]

    def clean_scopes(self):
        return clean_scopes(self.cleaned_data["scopes"])

    def save(self, commit=True):
        token = super().save(commit=False)
        if self.cleaned_data.get("revoke") and token.revoked_at is None:
            token.revoked_at = timezone.now()
        if commit:
            token.save()
        return token


@admin.register(ShopApiToken)
class ShopApiTokenAdmin(admin.ModelAdmin):
    form = ShopApiTokenForm
    list_display = ["name", "shop", "prefix", "scope_list", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "shop"]
    list_select_related = ["shop"]
    search_fields = ["name", "prefix", "shop__code", "shop__name"]
    readonly_fields = ["shop", "prefix", "created_at", "revoked_at"]
    fields = ["shop", "name", "prefix", "scopes", "created_at", "revoked_at", "revoke"]
    actions = ["revoke_tokens"]

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes or ()) or "—"

    def get_fields(self, request, obj=None):
        if obj is not None and obj.revoked_at is not None:
            return ["shop", "name", "prefix", "scope_list", "created_at", "revoked_at"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.revoked_at is not None:
            return ["shop", "name", "prefix", "scope_list", "created_at", "revoked_at"]
        return self.readonly_fields

    @admin.action(description=_("Revoke selected API tokens"))
    def revoke_tokens(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])  # one by one: each revocation lands in the audit log
            revoked += 1
        self.message_user(request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked)
                          % {"count": revoked})

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        # A revoked token stays as it was: view only.
        return self.has_module_permission(request) and (obj is None or obj.revoked_at is None)

    def has_add_permission(self, request):
        return False  # issued with `manage.py issue_api_token`, which shows the raw key once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the record says which key existed and who revoked it
