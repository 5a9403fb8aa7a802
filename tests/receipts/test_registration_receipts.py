"""Receipts for event registrations (SPEC 4.3): paid and not cancelled only, showing what remains paid;
the first is the original, every later one says 再発行; the admin download is scoped to the user's shops."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.actors import Actor
from payments.errors import NotPermitted
from payments.models import Method, Status
from receipts.models import ReceiptIssue
from receipts.services import ReceiptRefused, issue_receipt
from registrations.models import LineStatus, MenuKind, RegistrationStatus
from shops.roles import Role
from tests.factories import UserFactory, member
from tests.receipts import builders
from tests.receipts.pdf_checks import ARTIFACTS, font_resources, non_white_pixels, page_image, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoicing_shop(shop):
    return builders.invoicing(shop)


def url_for(registration):
    return reverse("admin:receipts_registration_receipt", args=[registration.pk])


def test_a_paid_registration_gets_a_receipt_and_later_ones_are_reissues(invoicing_shop, operator):
    registration = builders.registration(invoicing_shop)
    by = Actor.for_user(operator)

    first, pdf = issue_receipt(registration, by=by)
    text = text_of(pdf)
    for expected in ("領収書", registration.number, "佐藤 太郎 様", "金額 ¥9,080（税込）", "一般参加", "懇親会",
                     "お弁当※", "10%対象 ¥8,000（うち消費税 ¥727）", "8%対象 ¥1,080（うち消費税 ¥80）",
                     "株式会社デモイベント", "登録番号 T1234567890123", "秋の技術カンファレンス 参加費として"):
        assert expected in text, expected
    assert "再発行" not in text
    assert (first.sequence, first.reissue, first.amount, first.number) == (1, False, 9080, registration.number)
    assert (first.issued_by, first.issued_by_label, first.shop) == (operator, operator.username, invoicing_shop)
    assert all(font["embedded"] for font in font_resources(pdf))

    second, pdf = issue_receipt(registration, by=by)
    assert "再発行" in text_of(pdf)
    assert (second.sequence, second.reissue) == (2, True)
    image = page_image(pdf, ARTIFACTS / "registration-reissue.png")
    assert non_white_pixels(image, top=0.0, bottom=0.1) > 500
    assert ReceiptIssue.objects.filter(registration=registration).count() == 2


def test_a_partly_cancelled_registration_shows_only_what_remains_paid(invoicing_shop, operator):
    registration = builders.registration(invoicing_shop, lines=(
        (MenuKind.BASE, "一般参加", 5000, 10, LineStatus.ACTIVE),
        (MenuKind.OPTION, "懇親会", 3000, 10, LineStatus.CANCELLED),
        (MenuKind.OPTION, "お弁当", 1080, 8, LineStatus.ACTIVE)))
    issue, pdf = issue_receipt(registration, by=Actor.for_user(operator))
    text = text_of(pdf)
    assert "懇親会" not in text
    assert "金額 ¥6,080（税込）" in text and "10%対象 ¥5,000（うち消費税 ¥454）" in text
    assert issue.amount == 6080


@pytest.mark.parametrize("method, status", [
    (Method.CARD, Status.CAPTURED), (Method.CARD, Status.CAPTURED_IMMEDIATELY), (Method.KONBINI, Status.PAID),
    (Method.BANK_TRANSFER, Status.PAID)])
def test_paid_in_every_method(invoicing_shop, operator, method, status):
    issue, _ = issue_receipt(builders.registration(invoicing_shop, method=method, status=status),
                             by=Actor.for_user(operator))
    assert issue.amount == 9080


@pytest.mark.parametrize("method, status, message", [
    (Method.CARD, Status.AUTHORIZED, "Not paid yet"),
    (Method.CARD, Status.UNPROCESSED, "Not paid yet"),
    (Method.KONBINI, Status.AWAITING_PAYMENT, "Not paid yet"),
    (Method.KONBINI, Status.EXPIRED, "Not paid yet"),
    (Method.BANK_TRANSFER, Status.UNPROCESSED, "Not paid yet"),
    (Method.CARD, Status.VOIDED, "payment is cancelled"),
    (Method.KONBINI, Status.CANCELLED, "payment is cancelled"),
])
def test_not_paid_or_cancelled_payments_are_refused(invoicing_shop, operator, english, method, status, message):
    registration = builders.registration(invoicing_shop, method=method, status=status)
    with pytest.raises(ReceiptRefused, match=message):
        issue_receipt(registration, by=Actor.for_user(operator))
    assert not ReceiptIssue.objects.exists()


def test_refusals_say_why(invoicing_shop, operator, english):
    by = Actor.for_user(operator)
    cancelled = builders.registration(invoicing_shop)
    cancelled.status = RegistrationStatus.CANCELLED
    cancelled.save()
    with pytest.raises(ReceiptRefused, match="registration is cancelled"):
        issue_receipt(cancelled, by=by)
    only_free_left = builders.registration(invoicing_shop, lines=(
        (MenuKind.BASE, "無料参加", 0, 10, LineStatus.ACTIVE),
        (MenuKind.OPTION, "懇親会", 3000, 10, LineStatus.CANCELLED)))
    with pytest.raises(ReceiptRefused, match="Nothing paid remains"):
        issue_receipt(only_free_left, by=by)
    with pytest.raises(ReceiptRefused, match="Not paid yet"):
        issue_receipt(builders.registration(invoicing_shop, with_payment=False), by=by)
    assert not ReceiptIssue.objects.exists()


def test_no_receipt_without_the_registration_number(shop, operator, english):
    registration = builders.registration(shop)  # the shop has no 登録番号
    with pytest.raises(ReceiptRefused, match="registration number .* in the shop settings"):
        issue_receipt(registration, by=Actor.for_user(operator))
    assert not ReceiptIssue.objects.exists()


def test_issuer_defaults_to_the_shop_name(invoicing_shop, operator):
    invoicing_shop.receipt_issuer_name = ""
    invoicing_shop.save()
    _, pdf = issue_receipt(builders.registration(invoicing_shop), by=Actor.for_user(operator))
    assert invoicing_shop.name in text_of(pdf)


def test_another_shops_actor_is_not_permitted(invoicing_shop, other_shop):
    outsider = member(other_shop, Role.ADMIN)
    with pytest.raises(NotPermitted):
        issue_receipt(builders.registration(invoicing_shop), by=Actor.for_user(outsider))
    assert not ReceiptIssue.objects.exists()


# --- the admin download ---------------------------------------------------------------------------------------

def test_admin_download_is_an_attached_pdf(client, invoicing_shop):
    registration = builders.registration(invoicing_shop, number="CONF-0042")
    client.force_login(member(invoicing_shop, Role.VIEWER))  # viewing is enough to issue a receipt
    response = client.get(url_for(registration))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="receipt-CONF-0042.pdf"'
    assert "CONF-0042" in text_of(response.content)
    assert ReceiptIssue.objects.get().registration == registration


def test_admin_refuses_a_cancelled_registration_and_records_nothing(english_client, invoicing_shop, operator):
    registration = builders.registration(invoicing_shop)
    registration.status = RegistrationStatus.CANCELLED
    registration.save()
    english_client.force_login(operator)
    back = f"/admin/registrations/registration/{registration.pk}/change/"
    response = english_client.get(url_for(registration), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This registration is cancelled: no receipt can be issued."]
    assert not ReceiptIssue.objects.exists()


def test_admin_never_redirects_off_site(client, invoicing_shop, operator):
    registration = builders.registration(invoicing_shop, status=Status.AUTHORIZED)
    client.force_login(operator)
    response = client.get(url_for(registration), {"next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_another_shops_registration_is_a_404(client, invoicing_shop, other_shop):
    registration = builders.registration(invoicing_shop)
    client.force_login(member(other_shop, Role.ADMIN))
    assert client.get(url_for(registration)).status_code == 404
    assert client.get(reverse("admin:receipts_registration_receipt", args=[999999])).status_code == 404
    assert not ReceiptIssue.objects.exists()


def test_issued_receipts_are_listed_for_the_own_shop_only(client, invoicing_shop, other_shop, operator):
    builders.invoicing(other_shop, issuer="他店")
    ours, theirs = builders.registration(invoicing_shop), builders.registration(other_shop)
    issue_receipt(ours, by=Actor.for_user(operator))
    issue_receipt(theirs, by=Actor.system("test"))
    client.force_login(operator)
    response = client.get(reverse("admin:receipts_receiptissue_changelist"))
    assert response.status_code == 200
    assert ours.number in response.content.decode() and theirs.number not in response.content.decode()
    ours_issue, theirs_issue = (ReceiptIssue.objects.get(registration=r) for r in (ours, theirs))
    assert client.get(reverse("admin:receipts_receiptissue_change", args=[ours_issue.pk])).status_code == 200
    assert client.get(reverse("admin:receipts_receiptissue_change", args=[theirs_issue.pk])).status_code == 404


def test_no_membership_no_download(client, invoicing_shop):
    client.force_login(UserFactory())  # staff flag, no shop
    assert client.get(url_for(builders.registration(invoicing_shop))).status_code == 404
