"""銀行入金明細の取込 in the admin: upload a bank statement, read what became of each row, assign or close the rest.

Imports are scoped to the shops where the user may mark payments paid (Perm.MARK_PAID): another shop's import
is a 404, and the services check the permission again. Views only parse input and call
payments.bank_statement; the confirm page states what assigning does before anything is booked.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments import bank_statement
from payments.actors import Actor
from payments.bank_statement_csv import COLUMN_ALIASES, UnreadableStatement
from payments.bank_statement_models import BOOKED, TO_HANDLE, BankStatementImport, BankStatementRow, RowOutcome
from payments.bank_transfer import BANK_SPECS
from payments.errors import NotPermitted, PaymentError
from payments.formatting import yen
from payments.models import OperationKind, Payment, Status
from shops.admin_scoping import ShopScopedAdmin
from shops.models import Shop
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can

ROWS_PER_PAGE = 100
OPTIONS_PER_ROW = 50  # open transfers offered in one row's select; the reference search finds the others
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TABS = {
    "to_handle": (gettext_lazy("To handle"), TO_HANDLE),
    "booked": (gettext_lazy("Marked paid"), BOOKED),
    "ignored": (gettext_lazy("Handled by hand"), (RowOutcome.IGNORED,)),
    "malformed": (gettext_lazy("Malformed rows"), (RowOutcome.MALFORMED,)),
    "all": (gettext_lazy("All rows"), None),
}


def mark_paid_shops(user) -> list[Shop]:
    return [shop for shop in shops_for_user(user).order_by("name") if user_can(user, shop.pk, Perm.MARK_PAID)]


class StatementUploadForm(forms.Form):
    shop = forms.ModelChoiceField(label=gettext_lazy("Shop"), queryset=Shop.objects.none())
    file = forms.FileField(label=gettext_lazy("Bank statement (CSV)"))

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = Shop.objects.filter(pk__in=[shop.pk for shop in shops]).order_by("name")
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk
            self.fields["shop"].widget = forms.HiddenInput()

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than %(mb)s MB: split it and upload the parts one by "
                                          "one.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
        return file


@admin.register(BankStatementImport)
class BankStatementImportAdmin(ShopScopedAdmin):
    list_display = ["created_at", "shop", "file_name", "uploaded_by_label", "rows_total", "booked", "to_handle",
                    "malformed"]
    list_display_links = ["created_at", "file_name"]
    list_select_related = ["shop"]
    search_fields = ["file_name"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(shop__in=mark_paid_shops(request.user))

    def has_module_permission(self, request):
        return super().has_module_permission(request) and bool(mark_paid_shops(request.user))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, obj=None):
        return self.has_module_permission(request)

    @admin.display(description=gettext_lazy("rows"))
    def rows_total(self, obj):
        return obj.rows_total

    @admin.display(description=gettext_lazy("marked paid"))
    def booked(self, obj):
        return obj.rows_booked

    @admin.display(description=gettext_lazy("to handle"))
    def to_handle(self, obj):
        return obj.rows_to_handle

    @admin.display(description=gettext_lazy("malformed"))
    def malformed(self, obj):
        return obj.rows_malformed

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/rows/<int:row_id>/assign/", view(self.assign_view), name="payments_bankstatement_assign"),
            path("<int:pk>/rows/<int:row_id>/ignore/", view(self.ignore_view), name="payments_bankstatement_ignore"),
            path("<int:pk>/process/", view(self.process_view), name="payments_bankstatement_process"),
            *super().get_urls(),
        ]

    # --- helpers ------------------------------------------------------------------------------------------

    def _context(self, request, title, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def _statement(self, request, pk) -> BankStatementImport:
        """Another shop's import and an unknown id look the same: 404."""
        statement = self.get_queryset(request).filter(pk=pk).first()
        if statement is None:
            raise Http404
        return statement

    def _row(self, request, pk, row_id) -> tuple[BankStatementImport, BankStatementRow]:
        statement = self._statement(request, pk)
        row = statement.rows.filter(pk=row_id).first()
        if row is None:
            raise Http404
        return statement, row

    @staticmethod
    def _result_url(statement, tab: str = "to_handle") -> str:
        url = reverse("admin:payments_bankstatementimport_change", args=[statement.pk])
        return f"{url}?{urlencode({'tab': tab})}"

    # --- upload -------------------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        shops = mark_paid_shops(request.user)
        if not shops:
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None, shops=shops)
        if request.method == "POST" and form.is_valid():
            file = form.cleaned_data["file"]
            try:
                statement = bank_statement.import_statement(form.cleaned_data["shop"], file_name=file.name,
                                                            data=file.read(), by=Actor.for_user(request.user))
            except bank_statement.DuplicateStatement as exc:
                messages.warning(request, exc.message)
                return HttpResponseRedirect(self._result_url(exc.existing, "all"))
            except NotPermitted as exc:
                raise PermissionDenied(exc.message) from exc
            except UnreadableStatement as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(request, _(
                    "%(rows)s rows read: %(booked)s marked paid, %(open)s to handle, %(bad)s malformed.") % {
                    "rows": statement.rows_total, "booked": statement.rows_booked, "open": statement.rows_to_handle,
                    "bad": statement.rows_malformed})
                return HttpResponseRedirect(self._result_url(statement))
        columns = [" / ".join(aliases[:2]) for aliases in COLUMN_ALIASES.values()]
        recent = self.get_queryset(request).select_related("shop")[:10]
        return TemplateResponse(request, "admin/payments/bank_import/upload.html", self._context(
            request, _("Import a bank statement"), form=form, columns=columns, recent=recent))

    # --- result -------------------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404
        statement = self._statement(request, object_id)
        tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "to_handle"
        label, outcomes = TABS[tab]
        rows = statement.rows.select_related("payment").order_by("line")
        if outcomes is not None:
            rows = rows.filter(outcome__in=outcomes)
        page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
        self._attach_choices(statement, page.object_list)
        tabs = [(key, name, statement.count(*keys) if keys else statement.rows_total)
                for key, (name, keys) in TABS.items()]
        counts = [(value, name, statement.counts.get(value, 0)) for value, name in RowOutcome.choices
                  if statement.counts.get(value)]
        return TemplateResponse(request, "admin/payments/bank_import/result.html", self._context(
            request, _("Bank statement %(file)s") % {"file": statement.file_name}, statement=statement, tab=tab,
            tab_label=label, tabs=tabs, counts=counts, page_obj=page,
            unprocessed=statement.counts.get(RowOutcome.PENDING, 0)))

    @staticmethod
    def _attach_choices(statement, rows) -> None:
        """Each row to handle gets its candidate payments and the open transfers it can be assigned to: two
        queries for the whole page, never one per row."""
        rows = list(rows)
        ids = {pk for row in rows for pk in row.candidates}
        known = Payment.objects.in_bulk(ids) if ids else {}
        amounts = {row.amount for row in rows if row.to_handle and row.amount}
        by_amount = bank_statement.open_transfers_by_amount(statement, amounts) if amounts else {}
        for row in rows:
            row.candidate_payments = [known[pk] for pk in row.candidates if pk in known]
            if not row.to_handle:
                row.choices = []
                continue
            open_candidates = [p for p in row.candidate_payments if p.status == Status.AWAITING_PAYMENT]
            row.choices = open_candidates or by_amount.get(row.amount, [])[:OPTIONS_PER_ROW]

    def process_view(self, request, pk):
        """Carry on with rows left unprocessed (the upload was interrupted): rows already booked are skipped."""
        statement = self._statement(request, pk)
        if request.method == "POST":
            try:
                bank_statement.process_statement(statement, by=Actor.for_user(request.user))
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("The remaining rows were processed."))
        return HttpResponseRedirect(self._result_url(statement))

    # --- by hand ------------------------------------------------------------------------------------------

    def assign_view(self, request, pk, row_id):
        statement, row = self._row(request, pk, row_id)
        back = self._result_url(statement)
        if not row.to_handle:
            messages.error(request, _("Line %(line)s was already handled: %(outcome)s.") % {
                "line": row.line, "outcome": row.get_outcome_display()})
            return HttpResponseRedirect(back)
        data = request.POST if request.method == "POST" else request.GET
        payment_id = data.get("payment", "").strip()
        reference = data.get("reference", "").strip()
        if not payment_id and reference:
            found = bank_statement.find_by_reference(statement, reference)
            if len(found) != 1:
                return TemplateResponse(request, "admin/payments/bank_import/assign.html", self._context(
                    request, _("Assign line %(line)s") % {"line": row.line}, statement=statement, row=row,
                    searched=True, found=found, reference=reference, back=back))
            payment_id = str(found[0].pk)
        if not payment_id:
            messages.error(request, _("Choose a payment, or enter its reference or order number."))
            return HttpResponseRedirect(back)
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            try:
                bank_statement.assign_row(row, payment_id=payment_id, by=Actor.for_user(request.user),
                                          note=request.POST.get("note", "").strip()[:500])
            except PaymentError as exc:
                messages.error(request, _("Nothing was changed: %(reason)s") % {"reason": exc.message})
            else:
                row.refresh_from_db()
                messages.success(request, _("Line %(line)s: payment %(order)s is marked paid (%(amount)s).") % {
                    "line": row.line, "order": row.payment.gateway_order_id, "amount": yen(row.amount)})
            return HttpResponseRedirect(back)
        payment, plan, error = None, None, ""
        try:
            payment = bank_statement.assignable_payment(statement, payment_id)
            plan = BANK_SPECS[OperationKind.MARK_PAID].plan(payment, timezone.now(), amount=row.amount)
        except PaymentError as exc:
            error = exc.message
        return TemplateResponse(request, "admin/payments/bank_import/assign.html", self._context(
            request, _("Assign line %(line)s") % {"line": row.line}, statement=statement, row=row, payment=payment,
            plan=plan, error=error, back=back))

    def ignore_view(self, request, pk, row_id):
        statement, row = self._row(request, pk, row_id)
        if request.method == "POST":
            try:
                bank_statement.ignore_row(row, by=Actor.for_user(request.user),
                                          note=request.POST.get("note", "").strip()[:500])
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Line %(line)s is recorded as handled by hand; nothing was booked.")
                                 % {"line": row.line})
        return HttpResponseRedirect(self._result_url(statement))
