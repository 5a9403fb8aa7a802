"""Cancelling menus of a registration: one change manager for every case of seed 000 (SPEC 4.3).

Modelled on pretix's OrderChangeManager: collect what to cancel (lines, or the whole payment), validate
it against the registration and the payment method, show the money effect, then commit: lock, re-check
what the operator saw, and only then touch the money.

How the money moves (the table of SPEC 4.3):
- linked (card, GMO連携): a line's price is refunded at GMO by an amount change (金額変更); a change that
  would leave ¥0 at GMO is a full cancel (取消 / 返品 / 月跨返品 by the date rule), never a change to ¥0.
  Before anything is sent, GMO is asked whether it still holds the transaction as we do
  (payments.gateway_check): a transaction already changed in GMO's own screen is never cancelled blindly.
  The lines are marked cancelled once GMO applied it; if its answer was lost, the status check settles
  the operation and the receiver finishes the lines (registrations.receivers).
- not linked (GMO未連携): bank transfer and konbini always; a card only for users with the refund
  permission, with a reason (SPEC 3.1). Recorded here, and a manual refund task is opened for what was
  paid (none for ¥0 lines or when nothing was paid).
- 0-yen lines cancel like any other and never call a gateway.
- a line's own "change" is for option menus while another line remains; the last line, or everything at
  once, goes through the whole-payment status change.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from payments import services as payment_services
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, InvalidTransition, NotPermitted, PaymentBusy
from payments.formatting import yen
from payments.gateway_check import ensure_gateway_unchanged
from payments.ledger import lock_payment
from payments.models import CANCELLED, LIVE_CAPTURED, Method, OperationKind, Payment, Status
from payments.operations import held_after_manual_refunds
from payments.specs import spec_for
from refunds.services import open_refund_task
from registrations.models import (
    LineStatus,
    Linkage,
    MenuKind,
    Registration,
    RegistrationLine,
    RegistrationLog,
    RegistrationStatus,
)
from shops.roles import Perm

CHANGED = _lazy("This registration was changed meanwhile by someone else. Look at it again before cancelling.")
# Ledger context key: the lines an operation cancels, so a lost answer settled later still finishes them.
CANCEL_LINES = "cancel_registration_lines"
# Card states in which GMO holds the transaction and a linked cancel / amount change can be sent.
CARD_LIVE = (Status.AUTHORIZED, *LIVE_CAPTURED)
# States in which the customer's money has arrived (what a manual refund gives back).
PAID = {Method.CARD: LIVE_CAPTURED, Method.KONBINI: (Status.PAID,), Method.BANK_TRANSFER: (Status.PAID,)}


def is_paid(payment: Payment | None) -> bool:
    return payment is not None and payment.status in PAID.get(payment.method, ())


def offered_linkages(registration: Registration, user_can) -> list[str]:
    """The cancel kinds this user may choose for this registration (only those allowed now).

    `user_can(perm)` answers for the acting user in the registration's shop.
    """
    payment = registration.payment
    if not user_can(Perm.CANCEL):
        return []
    if payment is not None and payment.method == Method.CARD and payment.status in CARD_LIVE:
        return [Linkage.LINKED, *([Linkage.NOT_LINKED] if user_can(Perm.REFUND) else [])]
    return [Linkage.NOT_LINKED]


def reason_required(registration: Registration, linkage: str) -> bool:
    """A card GMO still holds, cancelled not linked: the operator must say why (SPEC 3.1)."""
    payment = registration.payment
    return (linkage == Linkage.NOT_LINKED and payment is not None and payment.method == Method.CARD
            and payment.status in CARD_LIVE)


def line_button(line: RegistrationLine, active: list[RegistrationLine]) -> tuple[bool, str]:
    """(enabled, reason) of a line's own "change" button (seed 000)."""
    if not line.is_active:
        return False, _("Already cancelled.")
    if line.kind == MenuKind.BASE:
        return False, _("The base menu is cancelled with the whole registration: use “Change status”.")
    if len(active) <= 1:
        return False, _("This is the last remaining line: cancel it with “Change status” for the whole payment.")
    return True, ""


@dataclass
class ChangePreview:
    """What the confirm page states before anything happens."""

    lines: list[RegistrationLine]
    whole: bool
    linkage: str
    amount: int  # the cancelled lines' total
    money: str  # the money effect in one sentence
    explanation: str = ""  # the gateway operation's own explanation (job and why), when one is sent
    refund_task_amount: int = 0
    gateway_job: str = ""  # the ledger operation sent ("" = nothing at a gateway)


class RegistrationChange:
    def __init__(self, registration: Registration, *, by: Actor, linkage: str | None = None, reason: str = ""):
        self.registration = registration
        self.by = by
        self.linkage = linkage
        self.reason = (reason or "").strip()[:500]
        self._line_ids: list[int] = []
        self._whole = False

    # --- collect ----------------------------------------------------------------------------

    def cancel_line(self, line_id: int) -> RegistrationChange:
        self._line_ids.append(int(line_id))
        return self

    def cancel_all(self) -> RegistrationChange:
        self._whole = True
        return self

    # --- validate -----------------------------------------------------------------------------

    def _lines(self, registration: Registration) -> tuple[list[RegistrationLine], list[RegistrationLine]]:
        """(lines to cancel, active lines) of `registration` as it is now."""
        lines = list(registration.lines.all())
        active = [line for line in lines if line.is_active]
        if self._whole:
            return active, active
        by_id = {line.pk: line for line in lines}
        chosen = []
        for pk in dict.fromkeys(self._line_ids):
            line = by_id.get(pk)
            if line is None:
                raise InvalidTransition(_("This line does not belong to this registration."))
            enabled, why = line_button(line, active)
            if not enabled:
                raise InvalidTransition(why)
            chosen.append(line)
        if not chosen:
            raise InvalidTransition(_("Choose the line to cancel."))
        if len(chosen) >= len(active):
            raise InvalidTransition(_("This would cancel every remaining line: use “Change status” for the "
                                      "whole payment."))
        return chosen, active

    def _validate(self, registration: Registration) -> tuple[list[RegistrationLine], str]:
        if registration.status != RegistrationStatus.REGISTERED:
            raise InvalidTransition(_("This registration is already cancelled."))
        self.by.require(registration.shop_id, Perm.CANCEL)
        chosen, _active = self._lines(registration)
        offered = offered_linkages(registration, lambda perm: self.by.can(registration.shop_id, perm))
        linkage = self.linkage or (offered[0] if offered else "")
        if linkage not in offered:
            if linkage == Linkage.LINKED:
                raise InvalidTransition(_("This payment cannot be cancelled at the gateway (GMO連携): only "
                                          "“Cancel (not linked)” is possible."))
            raise InvalidTransition(_("A card payment is cancelled without GMO (not linked) only by users with "
                                      "the refund permission."))
        payment = registration.payment
        if reason_required(registration, linkage) and not self.reason:
            raise InvalidTransition(_("Give the reason for cancelling the card payment without GMO (not linked)."))
        if not self._whole and payment is not None and not is_paid(payment) and payment.method != Method.CARD \
                and sum(line.price for line in chosen):
            raise InvalidTransition(_("This payment is not paid yet and its amount is fixed (konbini numbers, or "
                                      "the transfer asked for): cancel the whole payment and register again, "
                                      "or cancel this line once it is paid."))
        return chosen, linkage

    # --- preview --------------------------------------------------------------------------------

    def preview(self) -> ChangePreview:
        registration = self.registration
        chosen, linkage = self._validate(registration)
        amount = sum(line.price for line in chosen)
        payment = registration.payment
        if linkage == Linkage.LINKED:
            preview = self._preview_linked(payment, chosen, amount)
        else:
            preview = self._preview_not_linked(payment, chosen, amount)
        if preview.gateway_job:
            self._require_operation_perm(payment, preview)
        return preview

    def _operation(self, payment: Payment, preview: ChangePreview) -> tuple[str, dict]:
        """(kind, params) of the payment operation a previewed change sends."""
        if preview.linkage == Linkage.LINKED:
            return self._gmo_params(payment, preview.amount)
        return OperationKind.CANCEL, {}

    def _require_operation_perm(self, payment: Payment, preview: ChangePreview) -> None:
        """Refuse before anything is asked or claimed when the payment operation itself would be refused (an API
        token may hold the cancel scope without, say, change_amount)."""
        kind, _params = self._operation(payment, preview)
        perm = spec_for(payment, kind).perm
        if not self.by.can(self.registration.shop_id, perm):
            raise NotPermitted(_("This cancel is sent to the gateway as “%(operation)s”, which needs the "
                                 "“%(perm)s” permission.") % {"operation": OperationKind(kind).label,
                                                              "perm": Perm(perm).label})

    def _gmo_params(self, payment: Payment, amount: int) -> tuple[str, dict]:
        """The card operation a linked cancel sends: None when nothing goes to GMO."""
        if self._whole:
            return OperationKind.CANCEL, {}
        remaining = payment.amount - amount
        if remaining < 0:
            raise InvalidTransition(_("GMO holds only %(held)s for this payment; it cannot refund %(amount)s.")
                                    % {"held": yen(payment.amount), "amount": yen(amount)})
        if remaining == 0:
            return OperationKind.CANCEL, {}  # never an amount change to ¥0
        return OperationKind.CHANGE_AMOUNT, {
            "new_amount": remaining, "job": "CAPTURE" if payment.status in LIVE_CAPTURED else "AUTH"}

    def _preview_linked(self, payment: Payment, chosen, amount: int) -> ChangePreview:
        whole_money = payment.captured_amount if payment.status in LIVE_CAPTURED else 0
        if self._whole and held_after_manual_refunds(payment) < whole_money:
            raise InvalidTransition(_("Part of this payment was already refunded by hand (not linked): a linked "
                                      "cancel would refund it again at GMO. Cancel not linked instead."))
        if not self._whole and amount == 0:
            return ChangePreview(chosen, False, Linkage.LINKED, 0, _(
                "A ¥0 menu: nothing is sent to GMO and no money moves."))
        kind, params = self._gmo_params(payment, amount)
        plan = payment_services.preview(payment, kind, by=self.by, **params)
        refunded = whole_money if kind == OperationKind.CANCEL else amount
        if payment.status in LIVE_CAPTURED:
            money = _("%(amount)s refunded to the card via GMO.") % {"amount": yen(refunded)}
        else:
            money = _("The authorization at GMO is reduced by %(amount)s (nothing was charged yet).") % {
                "amount": yen(payment.amount if kind == OperationKind.CANCEL else amount)}
        return ChangePreview(chosen, self._whole, Linkage.LINKED, amount, money, explanation=plan.explanation,
                             gateway_job=plan.job)

    def _preview_not_linked(self, payment: Payment | None, chosen, amount: int) -> ChangePreview:
        if self._whole and payment is not None and payment.method != Method.CARD \
                and payment.status not in (Status.CANCELLED, *CANCELLED):
            plan = payment_services.preview(payment, OperationKind.CANCEL, by=self.by)
            task = plan.amount if plan.job == "MANUAL" else 0
            return ChangePreview(chosen, True, Linkage.NOT_LINKED, amount, self._hand_money(task, plan.explanation),
                                 explanation=plan.explanation, refund_task_amount=task, gateway_job=plan.job)
        task = self._hand_refund(payment, amount)
        return ChangePreview(chosen, self._whole, Linkage.NOT_LINKED, amount, self._hand_money(task),
                             refund_task_amount=task)

    def _hand_refund(self, payment: Payment | None, amount: int) -> int:
        """What the organizer gives back by hand for this not-linked cancel."""
        if not is_paid(payment):
            return 0
        held = held_after_manual_refunds(payment)
        return held if self._whole else min(amount, held)

    @staticmethod
    def _hand_money(task: int, said: str = "") -> str:
        if task:
            return _("Recorded only; refund %(amount)s by hand (a manual refund task is opened).") % {
                "amount": yen(task)}
        return said or _("Recorded only; nothing was paid for these lines, so there is nothing to refund.")

    # --- commit ---------------------------------------------------------------------------------

    def commit(self, *, seen_version: int, idempotency_key: str | None = None) -> ChangePreview:
        """Run the change the operator confirmed at `seen_version` of the registration."""
        if self.registration.version != seen_version:
            raise ChangedMeanwhile(CHANGED)
        payment = self.registration.payment
        if payment is not None and payment.operations.unresolved().exists():
            raise PaymentBusy()  # our own earlier operation, not a change made at GMO: wait for its check
        first = self.preview()
        if first.linkage == Linkage.LINKED and first.gateway_job:
            # Asked before anything is claimed: a transaction changed at GMO leaves everything as it was.
            ensure_gateway_unchanged(payment, by=self.by)
        with transaction.atomic():
            registration = self._lock(seen_version)
            preview = self.preview()
            if not preview.gateway_job:
                self._record_here(registration, preview)
                return preview
            # The money goes first: the lines stay as they are until the gateway applied it. Claim the
            # registration so a second confirm page acting on the same view is refused meanwhile.
            registration.version += 1
            registration.save(update_fields=["version"])
        context = {CANCEL_LINES: {"registration": registration.pk, "lines": [line.pk for line in preview.lines],
                                  "whole": preview.whole, "linkage": preview.linkage, "effect": preview.money}}
        payment = registration.payment
        kind, params = self._operation(payment, preview)
        if kind == OperationKind.CANCEL:
            op = payment_services.cancel_payment(payment, by=self.by, idempotency_key=idempotency_key,
                                                 reason=self.reason, context=context)
        else:
            op = payment_services.change_amount(payment, by=self.by, idempotency_key=idempotency_key,
                                                context=context, **params)
        lines_cancelled_by(op)
        return preview

    def _lock(self, seen_version: int) -> Registration:
        locked = (Registration.objects.select_for_update(of=("self",)).select_related("payment__shop", "shop")
                  .get(pk=self.registration.pk))
        if locked.version != seen_version:
            raise ChangedMeanwhile(CHANGED)
        self.registration = locked
        return locked

    def _record_here(self, registration: Registration, preview: ChangePreview) -> None:
        """A change with nothing to send to a gateway: not linked, or ¥0 lines."""
        payment = registration.payment
        task = None
        if payment is not None:
            # Payment after registration: the fixed lock order. No other operation may be in flight on it.
            locked = lock_payment(payment.pk)
            if locked.operations.unresolved().exists():
                raise PaymentBusy()
            if preview.refund_task_amount:
                names = "、".join(line.name for line in preview.lines)
                task = open_refund_task(locked, amount=preview.refund_task_amount, actor_label=self.by.label,
                                        reason=f"{registration.number} {names}: "
                                               f"{self.reason or _('cancelled (not linked)')}")
        finish_lines(registration.pk, [line.pk for line in preview.lines], whole=preview.whole,
                     linkage=preview.linkage, actor_label=self.by.label, effect=preview.money, refund_task=task,
                     reason=self.reason)


def lines_cancelled_by(op) -> None:
    """Finish the lines an applied operation was for (idempotent: the receiver calls it again)."""
    spec = (op.context or {}).get(CANCEL_LINES)
    if not spec or op.state != "succeeded":
        return
    task = None
    if spec.get("linkage") == Linkage.NOT_LINKED:
        from refunds.models import RefundTask

        task = RefundTask.objects.filter(payment_id=op.payment_id, created_at__gte=op.created_at).order_by(
            "-id").first()
    finish_lines(spec["registration"], spec["lines"], whole=spec.get("whole", False), linkage=spec["linkage"],
                 actor_label=op.actor_label, effect=op.explanation or spec.get("effect", ""), refund_task=task)


def finish_lines(registration_id: int, line_ids: list[int], *, whole: bool, linkage: str, actor_label: str,
                 effect: str, refund_task=None, reason: str = "") -> None:
    with transaction.atomic():
        registration = Registration.objects.select_for_update().get(pk=registration_id)
        lines = list(RegistrationLine.objects.select_for_update().filter(
            registration_id=registration_id, pk__in=line_ids, status=LineStatus.ACTIVE))
        if not lines and not (whole and registration.status == RegistrationStatus.REGISTERED):
            return  # already finished
        now = timezone.now()
        for line in lines:
            line.status = LineStatus.CANCELLED
            line.cancel_linkage = linkage
            line.cancelled_at = now
            line.cancelled_by_label = actor_label
            line.refund_task = refund_task
        RegistrationLine.objects.bulk_update(lines, ["status", "cancel_linkage", "cancelled_at",
                                                     "cancelled_by_label", "refund_task"])
        if whole:
            registration.status = RegistrationStatus.CANCELLED
        registration.version += 1
        registration.save(update_fields=["status", "version"])
        what = "全体キャンセル" if whole else "オプションキャンセル"
        names = "、".join(f"{line.name} ¥{line.price:,}" for line in lines) or "—"
        RegistrationLog.objects.create(registration=registration, actor_label=actor_label, message=(
            f"{what} ({Linkage(linkage).label}): {names}. {effect}" + (f" 理由: {reason}" if reason else "")))
