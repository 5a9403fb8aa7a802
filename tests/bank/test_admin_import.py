"""The import pages: upload with the test client, the per-row result page, assigning an ambiguous or unmatched
row through its confirm page, "handled by hand", and scoping to the shops where the user may mark paid."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from payments import services
from payments.actors import Actor
from payments.bank_statement_models import BankStatementImport, BankStatementRow, RowOutcome
from payments.models import OperationKind, Payment, PaymentOperation, Status
from tests.bank.helpers import bank_payment, statement
from tests.factories import ShopFactory, member

pytestmark = pytest.mark.django_db

ADD = "admin:payments_bankstatementimport_add"
LIST = "admin:payments_bankstatementimport_changelist"


def result_url(imported, tab="to_handle"):
    return reverse("admin:payments_bankstatementimport_change", args=[imported.pk]) + f"?tab={tab}"


def assign_url(row):
    return reverse("admin:payments_bankstatement_assign", args=[row.statement_id, row.pk])


def ignore_url(row):
    return reverse("admin:payments_bankstatement_ignore", args=[row.statement_id, row.pk])


def upload(client, shop, data, name="statement.csv"):
    return client.post(reverse(ADD), {"shop": shop.pk, "file": SimpleUploadedFile(name, data, "text/csv")},
                       follow=True)


def status(payment):
    return Payment.objects.get(pk=payment.pk).status


@pytest.fixture
def staff_client(english_client, staff):
    english_client.force_login(staff)
    return english_client


def test_upload_books_matches_and_lists_every_row(staff_client, shop):
    taro = bank_payment(shop, amount=5000, kana="ヤマダ タロウ", reference="REG-1")
    kid = bank_payment(shop, amount=8000, kana="キッド ジョウ", reference="REG-2")
    data = statement("2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", "2026/03/10,8000,ｷﾂﾄﾞ ｼﾞﾖｳ", "2026/03/11,1200,ﾌﾒｲ",
                     "oops,1,ﾀﾞﾚ", encoding="cp932")
    response = upload(staff_client, shop, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "4 rows read: 2 marked paid, 1 to handle, 1 malformed." in page
    assert status(taro) == status(kid) == Status.PAID
    imported = BankStatementImport.objects.get()
    assert imported.encoding == "cp932" and imported.file_name == "statement.csv"
    assert 'id="bank-row-4"' in page and "ﾌﾒｲ" in page  # the unmatched row, to handle, with its forms
    assert "bank-assign-form" in page
    booked = staff_client.get(result_url(imported, "booked")).content.decode()
    assert "ﾔﾏﾀﾞ ﾀﾛｳ" in booked and taro.gateway_order_id in booked
    malformed = staff_client.get(result_url(imported, "malformed")).content.decode()
    assert 'id="bank-row-5"' in malformed and "not a date" in malformed


def test_unreadable_file_shows_the_reason_and_imports_nothing(staff_client, shop):
    response = upload(staff_client, shop, b"just,some,words\r\n1,2,3\r\n")
    assert "No header row was found" in response.content.decode()
    assert not BankStatementImport.objects.exists()


def test_the_same_file_twice_shows_the_first_import(staff_client, shop):
    payment = bank_payment(shop, amount=5000)
    data = statement("2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    upload(staff_client, shop, data)
    response = upload(staff_client, shop, data, name="again.csv")
    assert "already imported" in response.content.decode()
    assert BankStatementImport.objects.count() == 1
    assert payment.operations.filter(kind=OperationKind.MARK_PAID).count() == 1


def test_ambiguous_row_assigned_through_the_confirm_page(staff_client, shop, staff):
    first = bank_payment(shop, amount=3000, kana="サトウ ハナコ", reference="REG-1")
    second = bank_payment(shop, amount=3000, kana="サトウ ハナコ", reference="REG-2")
    page = upload(staff_client, shop, statement("2026/03/10,3000,ｻﾄｳ ﾊﾅｺ")).content.decode()
    row = BankStatementRow.objects.get(line=2)
    assert row.outcome == RowOutcome.AMBIGUOUS
    assert f'<option value="{first.pk}">' in page and f'<option value="{second.pk}">' in page

    confirm = staff_client.get(assign_url(row), {"payment": second.pk}).content.decode()
    assert "The transfer of ¥3,000 was received" in confirm and second.gateway_order_id in confirm
    assert status(second) == Status.AWAITING_PAYMENT  # nothing before the confirmation

    done = staff_client.post(assign_url(row), {"payment": second.pk, "confirmed": "1", "note": "電話で確認"},
                             follow=True).content.decode()
    assert "is marked paid (¥3,000)" in done
    row.refresh_from_db()
    assert row.outcome == RowOutcome.ASSIGNED and row.payment_id == second.pk and row.handled_by_id == staff.pk
    assert (status(first), status(second)) == (Status.AWAITING_PAYMENT, Status.PAID)


def test_unmatched_row_assigned_by_reference(staff_client, shop):
    payment = bank_payment(shop, amount=4000, kana="スズキ", reference="REG-77")
    upload(staff_client, shop, statement("2026/03/10,4000,ｽｽﾞｷ ｶｲｼﾔ"))  # paid by the payer's company
    row = BankStatementRow.objects.get(line=2)
    assert row.outcome == RowOutcome.NO_MATCH
    confirm = staff_client.get(assign_url(row), {"reference": "REG-77"}).content.decode()
    assert 'id="money-effect"' in confirm and "REG-77" in confirm
    staff_client.post(assign_url(row), {"payment": payment.pk, "confirmed": "1"})
    assert status(payment) == Status.PAID
    assert BankStatementRow.objects.get(pk=row.pk).outcome == RowOutcome.ASSIGNED


def test_unknown_reference_is_said_plainly(staff_client, shop):
    upload(staff_client, shop, statement("2026/03/10,4000,ｽｽﾞｷ"))
    row = BankStatementRow.objects.get(line=2)
    page = staff_client.get(assign_url(row), {"reference": "NOPE"}).content.decode()
    assert "No bank transfer payment of this shop has the reference" in page


def test_assigning_another_shops_payment_is_refused_and_changes_nothing(staff_client, shop, other_shop):
    foreign = bank_payment(other_shop, amount=4000)
    upload(staff_client, shop, statement("2026/03/10,4000,ｽｽﾞｷ"))
    row = BankStatementRow.objects.get(line=2)
    confirm = staff_client.get(assign_url(row), {"payment": foreign.pk}).content.decode()
    assert 'id="assign-refused"' in confirm and "not a bank transfer payment of this shop" in confirm
    response = staff_client.post(assign_url(row), {"payment": foreign.pk, "confirmed": "1"}, follow=True)
    assert "Nothing was changed" in response.content.decode()
    assert status(foreign) == Status.AWAITING_PAYMENT
    assert BankStatementRow.objects.get(pk=row.pk).outcome == RowOutcome.NO_MATCH
    assert not PaymentOperation.objects.exists()


def test_assigning_a_payment_not_awaiting_is_refused(staff_client, shop, operator):
    cancelled = bank_payment(shop, amount=4000)
    services.cancel_payment(cancelled, by=Actor.for_user(operator))
    upload(staff_client, shop, statement("2026/03/10,4000,ﾍﾞﾂｼﾞﾝ"))
    row = BankStatementRow.objects.get(line=2)
    response = staff_client.post(assign_url(row), {"payment": cancelled.pk, "confirmed": "1"}, follow=True)
    assert "only a payment awaiting its transfer" in response.content.decode()
    assert status(cancelled) == Status.CANCELLED


def test_transfer_for_a_cancelled_payment_is_marked_handled_by_hand(staff_client, shop, operator):
    cancelled = bank_payment(shop, amount=4000, kana="タナカ")
    services.cancel_payment(cancelled, by=Actor.for_user(operator))
    page = upload(staff_client, shop, statement("2026/03/10,4000,ﾀﾅｶ")).content.decode()
    assert "For a cancelled payment" in page and "it is not booked" in page
    row = BankStatementRow.objects.get(line=2)
    done = staff_client.post(ignore_url(row), {"note": "返金済み"}, follow=True).content.decode()
    assert "recorded as handled by hand" in done
    row.refresh_from_db()
    assert row.outcome == RowOutcome.IGNORED and row.note == "返金済み"
    assert status(cancelled) == Status.CANCELLED


def test_user_with_several_shops_chooses_the_shop(english_client, shop):
    second_shop = ShopFactory()
    user = member(shop, "staff")
    member(second_shop, "operator", user)
    english_client.force_login(user)
    form = english_client.get(reverse(ADD)).content.decode()
    assert f'<option value="{second_shop.pk}">' in form
    payment = bank_payment(second_shop, amount=5000)
    upload(english_client, second_shop, statement("2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ"))
    assert BankStatementImport.objects.get().shop == second_shop and status(payment) == Status.PAID


def test_pages_are_scoped_to_the_shops_where_the_user_may_mark_paid(client, shop, other_shop, staff):
    client.force_login(staff)
    upload(client, shop, statement("2026/03/10,4000,ｽｽﾞｷ"))
    imported = BankStatementImport.objects.get()
    row = imported.rows.get()
    stranger = member(other_shop, "admin")
    client.force_login(stranger)
    assert client.get(result_url(imported)).status_code == 404
    assert client.get(assign_url(row), {"reference": "x"}).status_code == 404
    assert client.post(ignore_url(row), {"note": "x"}).status_code == 404
    assert client.get(reverse(LIST)).content.decode().count(imported.file_name) == 0
    # A stranger cannot upload into a shop of which they are not a member.
    response = upload(client, shop, statement("2026/03/10,4000,ﾎｶ"))
    assert BankStatementImport.objects.count() == 1 and response.status_code == 200

    viewer = member(shop, "viewer")
    client.force_login(viewer)
    assert client.get(reverse(ADD)).status_code == 403
    assert client.get(result_url(imported)).status_code in (403, 404)
    assert client.post(ignore_url(row), {"note": "x"}).status_code in (403, 404)
    assert BankStatementRow.objects.get(pk=row.pk).outcome == RowOutcome.NO_MATCH


def test_payment_page_of_a_bank_transfer_shows_its_kana(staff_client, shop):
    payment = bank_payment(shop, kana="ヤマダ タロウ")
    page = staff_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200
    assert "ヤマダ タロウ" in page.content.decode() and "Awaiting transfer" in page.content.decode()


def test_payment_list_filters_bank_transfers(staff_client, shop):
    payment = bank_payment(shop, reference="REG-BANK")
    services.create_card_payment(shop, amount=5000, reference="REG-CARD", actor=Actor.system("test"))
    page = staff_client.get(reverse("admin:payments_payment_changelist"), {"method": "bank_transfer"}).content.decode()
    assert "REG-BANK" in page and "REG-CARD" not in page and "Awaiting transfer" in page
    assert payment.gateway_order_id in page
