"""The security audit log: sign-ins and every change of who may do what, with who did it, from where."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from audit.models import Kind, SecurityEvent
from shops.models import ShopApiToken, ShopMembership
from shops.roles import Role
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return user


def events(kind) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(kind=kind).order_by("id"))


def membership_post(shop, rows: list[dict], initial: int) -> dict:
    data = {"name": shop.name, "code": shop.code, "capture_mode": shop.capture_mode,
            "authorization_validity_days": shop.authorization_validity_days,
            "expiry_warning_days": shop.expiry_warning_days, "gmo_shop_id": shop.gmo_shop_id,
            "wallet_checkout_enabled": "on", "konbini_expires_after_days": shop.konbini_expires_after_days,
            "memberships-TOTAL_FORMS": str(len(rows)), "memberships-INITIAL_FORMS": str(initial)}
    for i, row in enumerate(rows):
        data.update({f"memberships-{i}-{key}": value for key, value in row.items()})
    return data


def test_sign_in_and_sign_out_through_the_admin_form(client):
    user = UserFactory(username="hanako", password="pw-1")
    response = client.post("/admin/login/?next=/admin/", {"username": "hanako", "password": "pw-1"},
                           REMOTE_ADDR="203.0.113.20")
    assert response.status_code == 302
    [login] = events(Kind.LOGIN)
    assert (login.actor, login.actor_label, login.target, login.ip_address) == (user, "hanako", "hanako",
                                                                               "203.0.113.20")
    client.post("/admin/logout/", REMOTE_ADDR="203.0.113.20")
    [logout] = events(Kind.LOGOUT)
    assert (logout.actor, logout.target) == (user, "hanako")


def test_failed_sign_in_records_the_user_name_only(client):
    UserFactory(username="hanako", password="pw-1")
    client.post("/admin/login/", {"username": "hanako", "password": "not-it-42"}, REMOTE_ADDR="203.0.113.21")
    [failed] = events(Kind.LOGIN_FAILED)
    assert (failed.actor, failed.actor_label, failed.target, failed.ip_address) == (None, "anonymous", "hanako",
                                                                                   "203.0.113.21")
    assert "not-it-42" not in failed.detail


def test_role_change_through_the_shop_admin_is_one_event_with_old_new_and_the_admin(client, shop, root):
    staff = member(shop, Role.STAFF)
    membership = ShopMembership.objects.get(user=staff, shop=shop)
    before = SecurityEvent.objects.count()
    url = reverse("admin:shops_shop_change", args=[shop.pk])
    row = {"id": membership.pk, "shop": shop.pk, "user": staff.pk, "role": Role.OPERATOR}
    response = client.post(url, membership_post(shop, [row], initial=1))
    assert response.status_code == 302, response.context and response.context["errors"]

    assert SecurityEvent.objects.count() == before + 1
    [event] = events(Kind.ROLE_CHANGED)
    assert event.actor == root and event.actor_label == "root"
    assert event.target == staff.username and event.shop == shop
    assert event.detail == "role: staff → operator"
    assert event.ip_address == "127.0.0.1"


def test_saving_the_shop_without_a_role_change_records_nothing(client, shop, root):
    staff = member(shop, Role.STAFF)
    membership = ShopMembership.objects.get(user=staff, shop=shop)
    before = SecurityEvent.objects.count()
    row = {"id": membership.pk, "shop": shop.pk, "user": staff.pk, "role": Role.STAFF}
    assert client.post(reverse("admin:shops_shop_change", args=[shop.pk]),
                       membership_post(shop, [row], initial=1)).status_code == 302
    assert SecurityEvent.objects.count() == before


def test_membership_added_and_removed_through_the_shop_admin(client, shop, root):
    newcomer = UserFactory(username="newcomer")
    url = reverse("admin:shops_shop_change", args=[shop.pk])
    added = client.post(url, membership_post(shop, [{"shop": shop.pk, "user": newcomer.pk, "role": Role.VIEWER}],
                                             initial=0))
    assert added.status_code == 302
    [event] = events(Kind.MEMBERSHIP_ADDED)[-1:]
    assert (event.actor, event.target, event.shop, event.detail) == (root, "newcomer", shop, "role: viewer")

    membership = ShopMembership.objects.get(user=newcomer, shop=shop)
    row = {"id": membership.pk, "shop": shop.pk, "user": newcomer.pk, "role": Role.VIEWER, "DELETE": "on"}
    assert client.post(url, membership_post(shop, [row], initial=1)).status_code == 302
    [removed] = events(Kind.MEMBERSHIP_REMOVED)
    assert (removed.actor, removed.target, removed.shop, removed.detail) == (root, "newcomer", shop, "role: viewer")


def user_change_post(user, **changes) -> dict:
    data = {"username": user.username, "first_name": "", "last_name": "", "email": "",
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": "00:00:00",
            "initial-date_joined_0": "", "initial-date_joined_1": "",
            "last_login_0": "", "last_login_1": "",
            "is_active": "on" if user.is_active else "", "is_staff": "on" if user.is_staff else "",
            "is_superuser": "on" if user.is_superuser else "",
            "groups": [g.pk for g in user.groups.all()],
            "user_permissions": [p.pk for p in user.user_permissions.all()]}
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_flags_groups_and_permissions_changed_in_the_user_admin(client, root):
    target = UserFactory(username="taro", is_staff=False)
    group = Group.objects.create(name="経理")
    perm = Permission.objects.get(codename="view_shop")
    before = SecurityEvent.objects.count()
    url = reverse("admin:auth_user_change", args=[target.pk])
    response = client.post(url, user_change_post(target, is_staff="on", is_superuser="on", groups=[group.pk],
                                                 user_permissions=[perm.pk]))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors

    staff, = events(Kind.STAFF_CHANGED)[-1:]
    superuser, = events(Kind.SUPERUSER_CHANGED)[-1:]
    groups, = events(Kind.GROUPS_CHANGED)
    perms, = events(Kind.PERMISSIONS_CHANGED)
    assert (staff.target, staff.detail, staff.actor) == ("taro", "is_staff: False → True", root)
    assert (superuser.target, superuser.detail, superuser.actor) == ("taro", "is_superuser: False → True", root)
    assert (groups.target, groups.detail, groups.actor) == ("taro", "added: 経理", root)
    assert (perms.target, perms.detail, perms.actor) == ("taro", "added: shops.view_shop", root)
    assert SecurityEvent.objects.count() == before + 4

    target.refresh_from_db()
    response = client.post(url, user_change_post(target, is_active="", groups=[], user_permissions=[]))
    assert response.status_code == 302
    assert events(Kind.ACTIVE_CHANGED)[-1].detail == "is_active: True → False"
    assert events(Kind.GROUPS_CHANGED)[-1].detail == "removed: 経理"
    assert events(Kind.PERMISSIONS_CHANGED)[-1].detail == "removed: shops.view_shop"


def test_group_membership_changed_from_the_group_side_and_by_clear(db):
    user = UserFactory(username="jiro")
    group = Group.objects.create(name="operators")
    group.user_set.add(user)
    assert events(Kind.GROUPS_CHANGED)[-1].detail == "added: operators"
    user.groups.clear()
    last = events(Kind.GROUPS_CHANGED)[-1]
    assert (last.target, last.detail, last.actor_label) == ("jiro", "removed: operators", "system")


def test_a_new_superuser_is_recorded(db):
    call_command("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.jp")
    event = events(Kind.SUPERUSER_CHANGED)[-1]
    assert (event.target, event.actor_label, event.detail) == ("boss", "system", "is_superuser: — → True")


def test_token_issue_scope_change_and_revocation(client, shop, root, capsys):
    call_command("issue_api_token", shop.code, "erp", "--scopes", "read,capture")
    raw = capsys.readouterr().out.strip()
    token = ShopApiToken.objects.get(name="erp")
    [issued] = events(Kind.TOKEN_ISSUED)
    assert (issued.actor_label, issued.shop, issued.detail) == ("system", shop, "scopes: read, capture")
    assert issued.target == f"erp ({token.prefix}…)" and raw not in str(SecurityEvent.objects.values())

    url = reverse("admin:shops_shopapitoken_change", args=[token.pk])
    response = client.post(url, {"name": "erp", "scopes": ["read", "capture", "cancel"]})
    assert response.status_code == 302
    [changed] = events(Kind.TOKEN_SCOPES_CHANGED)
    assert (changed.actor, changed.detail) == (root, "scopes: read, capture → read, capture, cancel")

    response = client.post(url, {"name": "erp", "scopes": ["read", "capture", "cancel"], "revoke": "on"})
    assert response.status_code == 302
    [revoked] = events(Kind.TOKEN_REVOKED)
    assert revoked.actor == root and not events(Kind.TOKEN_SCOPES_CHANGED)[1:]


def test_the_log_is_append_only_and_outlives_the_actor(db):
    actor = UserFactory(username="leaver")
    event = SecurityEvent.objects.create(kind=Kind.LOGIN, actor=actor, actor_label="leaver", target="leaver")
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        SecurityEvent.objects.filter(pk=event.pk).update(detail="x")
    with pytest.raises(TypeError):
        SecurityEvent.objects.filter(pk=event.pk).delete()
    actor.delete()
    event = SecurityEvent.objects.get(pk=event.pk)
    assert event.actor is None and event.actor_label == "leaver"


# --- the admin list ---------------------------------------------------------------------------------------

def test_the_audit_log_is_for_superusers_only_and_read_only(client, shop, root):
    member(shop, Role.OPERATOR)
    event = SecurityEvent.objects.order_by("-id").first()
    changelist = reverse("admin:audit_securityevent_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(reverse("admin:audit_securityevent_add")).status_code == 403
    change = reverse("admin:audit_securityevent_change", args=[event.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"detail": "tampered"}).status_code == 403
    assert client.get(reverse("admin:audit_securityevent_delete", args=[event.pk])).status_code == 403
    assert SecurityEvent.objects.get(pk=event.pk).detail == event.detail

    client.force_login(member(shop, Role.ADMIN))  # a shop admin is not a superuser
    assert client.get(changelist).status_code == 403


def test_the_list_filters_searches_and_costs_a_fixed_number_of_queries(client, shop, root,
                                                                      django_assert_max_num_queries):
    changelist = reverse("admin:audit_securityevent_changelist")
    for _ in range(3):
        member(shop, Role.STAFF)
    with django_assert_max_num_queries(12) as few:
        assert client.get(changelist).status_code == 200
    for _ in range(30):
        member(shop, Role.VIEWER)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(changelist)
    assert page.status_code == 200

    filtered = client.get(changelist, {"kind__exact": Kind.MEMBERSHIP_ADDED})
    assert {e.kind for e in filtered.context["cl"].result_list} == {Kind.MEMBERSHIP_ADDED}
    searched = client.get(changelist, {"q": "root"})
    assert searched.context["cl"].result_count >= 1
    assert all("root" in (e.actor_label + e.target) for e in searched.context["cl"].result_list)
    since = client.get(changelist, {"at__gte": "2000-01-01 00:00:00+09:00"})
    assert since.context["cl"].result_count == SecurityEvent.objects.count()
    before = client.get(changelist, {"at__lt": "2000-01-01 00:00:00+09:00"})
    assert before.context["cl"].result_count == 0
