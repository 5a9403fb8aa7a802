"""ステータスを変更する: choose an operation, give its input, read the money effect, confirm.

Only operations allowed from the current state AND permitted to this user are offered; the confirm
page carries the payment version the operator saw, so a change made meanwhile is refused instead of
acting on a stale picture.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gateways.gmo.messages import describe
from payments import card_rules, services, wallet_rules
from payments.actors import Actor
from payments.card_rules import JOB_LABELS, MAX_AMOUNT
from payments.errors import GatewayDeclined, OutcomeUnknown, PaymentError
from payments.models import OperationKind, Payment
from payments.operations import card_availability
from payments.owned import allowed_outside_owner
from payments.specs import spec_for
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.selectors import user_can

PAGE_OPERATIONS = [OperationKind.CAPTURE, OperationKind.CANCEL, OperationKind.CHANGE_AMOUNT,
                   OperationKind.REAUTHORIZE]
# Wallet: the amount is edited on the order and then *sent*; the rule that applies to each button.
WALLET_PAGE_OPERATIONS = {
    OperationKind.CAPTURE: WalletOperation.CAPTURE,
    OperationKind.CHANGE_AMOUNT: WalletOperation.SEND_AMOUNT_CHANGE,
    OperationKind.EXTEND_AUTHORIZATION: WalletOperation.EXTEND_AUTHORIZATION,
    OperationKind.CANCEL: WalletOperation.CANCEL,
}


def operation_label(payment: Payment, kind: str) -> str:
    if payment.is_wallet and kind in WALLET_PAGE_OPERATIONS:
        return str(WalletOperation(WALLET_PAGE_OPERATIONS[kind]).label)
    return str(OperationKind(kind).label)


def page_operations(payment: Payment) -> list[str]:
    return [kind for kind in _method_operations(payment) if allowed_outside_owner(payment, kind)]


def _method_operations(payment: Payment) -> list[str]:
    if payment.is_konbini:
        # Operated from its reservation (cancel goes with the seats; numbers follow the confirmation): a cancel
        # from here would leave the reservation confirmed with a dead payment.
        return []
    if payment.is_bank_transfer:
        # Never linked (SPEC 3.4): marked paid by a statement import or from its registration, cancelled with it.
        return []
    return list(WALLET_PAGE_OPERATIONS) if payment.is_wallet else PAGE_OPERATIONS


def operation_menu(user, payment: Payment) -> list[dict]:
    """Every operation this user may perform on the payment's method, allowed now or not, with the reason.

    A refused button stays visible (disabled, with the rule) so staff see *why* they cannot capture yet.
    """
    now = timezone.now()
    facts = facts_for(payment, now) if payment.is_wallet else None  # one shipments query, not one per button
    menu = []
    for kind in page_operations(payment):
        if not user_can(user, payment.shop_id, spec_for(payment, kind).perm):
            continue
        if facts is not None:
            verdict = wallet_rules.availability(WALLET_PAGE_OPERATIONS[kind], facts)
        else:
            verdict = card_availability(kind, payment, now)
        menu.append({"kind": kind, "label": operation_label(payment, kind), "allowed": verdict.allowed,
                     "reason": verdict.reason})
    return menu


class ChangeAmountForm(forms.Form):
    new_amount = forms.IntegerField(label=gettext_lazy("New amount (JPY)"), min_value=0, max_value=MAX_AMOUNT,
                                    help_text=gettext_lazy("¥0 cancels the whole payment."))
    job = forms.ChoiceField(label=gettext_lazy("Card status after the change"))

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].choices = [(j, JOB_LABELS[j]) for j in card_rules.change_amount_jobs(payment.status)]
        self.fields["new_amount"].initial = payment.amount


class ReauthorizeForm(forms.Form):
    job = forms.ChoiceField(label=gettext_lazy("Card status after re-authorization"),
                            choices=[("AUTH", JOB_LABELS["AUTH"]), ("CAPTURE", JOB_LABELS["CAPTURE"])])
    new_amount = forms.IntegerField(label=gettext_lazy("Amount (JPY)"), min_value=1, max_value=MAX_AMOUNT)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_amount"].initial = payment.amount


FORMS = {OperationKind.CHANGE_AMOUNT: ChangeAmountForm, OperationKind.REAUTHORIZE: ReauthorizeForm}
RUN = {
    OperationKind.CAPTURE: lambda p, by, **kw: services.capture_payment(p, by=by),
    OperationKind.CANCEL: lambda p, by, **kw: services.cancel_payment(p, by=by),
    OperationKind.EXTEND_AUTHORIZATION: lambda p, by, **kw: services.extend_authorization(p, by=by),
    OperationKind.CHANGE_AMOUNT: lambda p, by, new_amount, job: services.change_amount(
        p, new_amount=new_amount, job=job, by=by),
    OperationKind.REAUTHORIZE: lambda p, by, new_amount, job: services.reauthorize_payment(
        p, new_amount=new_amount, job=job, by=by),
}


def _offered(menu: list[dict]) -> list[tuple[str, str]]:
    return [(item["kind"], item["label"]) for item in menu if item["allowed"]]


def offered_operations(user, payment: Payment) -> list[tuple[str, str]]:
    return _offered(operation_menu(user, payment))


class PaymentOperationsMixin:
    """Admin views for one payment's operations; mixed into PaymentAdmin."""

    def operation_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/change-status/", view(self.change_status_view), name="payments_payment_change_status"),
            path("<int:pk>/operate/<str:kind>/", view(self.operate_view), name="payments_payment_operate"),
            path("<int:pk>/sync/", view(self.sync_view), name="payments_payment_sync"),
        ]

    def _payment_or_404(self, request, pk) -> Payment:
        payment = self.get_queryset(request).filter(pk=pk).first()
        if payment is None:
            raise Http404
        return payment

    def _context(self, request, payment, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "payment": payment,
                "detail_url": reverse("admin:payments_payment_change", args=[payment.pk]), **extra}

    def change_status_view(self, request, pk):
        payment = self._payment_or_404(request, pk)
        menu = operation_menu(request.user, payment)
        context = self._context(request, payment, title=_("Change status"),
                                offered=_offered(menu),
                                refused=[i for i in menu if not i["allowed"]])
        return TemplateResponse(request, "admin/payments/payment/change_status.html", context)

    def operate_view(self, request, pk, kind):
        payment = self._payment_or_404(request, pk)
        if kind not in page_operations(payment):
            raise Http404
        if not user_can(request.user, payment.shop_id, spec_for(payment, kind).perm):
            raise PermissionDenied
        form_class = None if payment.is_wallet else FORMS.get(kind)
        form = None
        params = {}
        if form_class is not None:
            form = form_class(request.POST or None, payment=payment)
            if request.method == "POST" and form.is_valid():
                params = form.cleaned_data
            else:
                return self._render_input(request, payment, kind, form)
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            try:
                payment.version = int(request.POST.get("version", ""))
            except ValueError:
                raise Http404 from None
            self._run(request, payment, kind, params)
            return HttpResponseRedirect(self._back_url(request, payment))
        return self._render_confirm(request, payment, kind, form, params)

    @staticmethod
    def _back_url(request, payment) -> str:
        # Started from an order page: go back there (only a path on this site, never an outside URL).
        back = request.POST.get("next") or request.GET.get("next") or ""
        if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) and back.startswith("/"):
            return back
        return reverse("admin:payments_payment_change", args=[payment.pk])

    def _render_input(self, request, payment, kind, form):
        context = self._context(request, payment, kind=kind, kind_label=operation_label(payment, kind), form=form,
                                title=operation_label(payment, kind))
        return TemplateResponse(request, "admin/payments/payment/operation_input.html", context)

    def _render_confirm(self, request, payment, kind, form, params):
        try:
            plan = services.preview(payment, kind, by=Actor.for_user(request.user), **params)
            error = ""
        except PaymentError as exc:
            plan, error = None, exc.message
        label = operation_label(payment, kind)
        context = self._context(request, payment, kind=kind, kind_label=label, plan=plan, error=error, form=form,
                                next=self._back_url(request, payment), title=_("Confirm: %(op)s") % {"op": label})
        return TemplateResponse(request, "admin/payments/payment/confirm_operation.html", context)

    def _run(self, request, payment, kind, params):
        try:
            by = Actor.for_user(request.user)
            if payment.is_wallet and kind == OperationKind.CHANGE_AMOUNT:
                op = services.send_amount_change(payment, by=by)  # the wallet's amount comes from the order
            else:
                op = RUN[kind](payment, by, **params)
        except GatewayDeclined as exc:
            codes = exc.gateway_code.split("|") if exc.gateway_code else []
            meaning = " / ".join(f"{c}: {describe(c, request.LANGUAGE_CODE)}" for c in codes)
            messages.error(request, _("The gateway refused; nothing was changed. %(meaning)s") % {"meaning": meaning})
        except OutcomeUnknown as exc:
            messages.warning(request, exc.message)
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Done: %(what)s") % {"what": op.explanation})

    def sync_view(self, request, pk):
        payment = self._payment_or_404(request, pk)
        detail_url = reverse("admin:payments_payment_change", args=[payment.pk])
        if request.method != "POST":
            return HttpResponseRedirect(detail_url)
        try:
            result = services.sync_payment(payment, actor=Actor.for_user(request.user))
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            lines = result.resolved + result.corrections + result.discrepancies
            summary = "; ".join(lines) if lines else _("no difference")
            messages.info(request, _("Gateway status %(status)s: %(summary)s")
                          % {"status": result.gateway_status, "summary": summary})
        return HttpResponseRedirect(detail_url)
