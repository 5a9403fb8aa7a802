"""Signal receivers that write the security audit log (connected in AuditConfig.ready).

Who did it comes from the request being served (audit.middleware); outside a request (a management
command, a task) the actor is "system". A failed sign-in records the user name tried, never the password.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit.middleware import current_request
from audit.models import Kind, SecurityEvent
from payments_admin.client_ip import client_ip

SYSTEM = "system"
ANONYMOUS = "anonymous"
USER_FLAGS = {"is_staff": Kind.STAFF_CHANGED, "is_superuser": Kind.SUPERUSER_CHANGED,
              "is_active": Kind.ACTIVE_CHANGED}


def record(kind: str, *, target: str = "", detail: str = "", shop=None, request=None, actor=None,
           actor_label: str | None = None) -> SecurityEvent:
    request = request if request is not None else current_request()
    if actor is None and actor_label is None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
        else:
            actor_label = ANONYMOUS if request is not None else SYSTEM
    if actor_label is None:
        actor_label = actor.get_username()
    return SecurityEvent.objects.create(
        kind=kind, actor=actor, actor_label=actor_label[:150], target=target[:200], detail=detail, shop=shop,
        ip_address=(client_ip(request) or None) if request is not None else None)


# --- sign-in -------------------------------------------------------------------------------------------

def on_login(sender, request, user, **kwargs):
    record(Kind.LOGIN, target=user.get_username(), request=request, actor=user)


def on_logout(sender, request, user, **kwargs):
    if user is not None:
        record(Kind.LOGOUT, target=user.get_username(), request=request, actor=user)


def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get(get_user_model().USERNAME_FIELD) or "")
    record(Kind.LOGIN_FAILED, target=username, request=request, actor_label=ANONYMOUS if request else SYSTEM)


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    record(Kind.LOCKED_OUT, target=str(username or ""), request=request, actor_label=ANONYMOUS)


# --- shop memberships ----------------------------------------------------------------------------------

def before_membership_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    instance._audit_old_role = (
        sender.objects.filter(pk=instance.pk).values_list("role", flat=True).first() if instance.pk else None)


def after_membership_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    target = instance.user.get_username()
    if created:
        record(Kind.MEMBERSHIP_ADDED, target=target, shop=instance.shop, detail=f"role: {instance.role}")
        return
    old = getattr(instance, "_audit_old_role", None)
    if old is not None and old != instance.role:
        record(Kind.ROLE_CHANGED, target=target, shop=instance.shop, detail=f"role: {old} → {instance.role}")


def after_membership_delete(sender, instance, origin=None, **kwargs):
    from shops.models import Shop

    # Deleted with its shop: the event must not point at the shop being deleted.
    shop_going = isinstance(origin, Shop) or getattr(origin, "model", None) is Shop
    user = get_user_model().objects.filter(pk=instance.user_id).first()
    target = user.get_username() if user is not None else f"user #{instance.user_id}"
    record(Kind.MEMBERSHIP_REMOVED, target=target, shop=None if shop_going else instance.shop,
           detail=f"role: {instance.role}" + (f"; shop {instance.shop.code} deleted" if shop_going else ""))


# --- user flags, groups and permissions ----------------------------------------------------------------

def before_user_save(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._audit_flag_changes = []
    if raw or (update_fields is not None and not set(update_fields) & set(USER_FLAGS)):
        return  # e.g. the last_login update at every sign-in
    if instance.pk is None:
        old = None
    else:
        old = sender.objects.filter(pk=instance.pk).values(*USER_FLAGS).first()
    for flag in USER_FLAGS:
        new = getattr(instance, flag)
        if old is None:
            if new and flag != "is_active":  # a new staff user or superuser is itself a change of rights
                instance._audit_flag_changes.append((flag, "—", new))
        elif old[flag] != new:
            instance._audit_flag_changes.append((flag, old[flag], new))


def after_user_save(sender, instance, raw=False, **kwargs):
    for flag, old, new in getattr(instance, "_audit_flag_changes", ()):
        record(USER_FLAGS[flag], target=instance.get_username(), detail=f"{flag}: {old} → {new}")
    instance._audit_flag_changes = []


def _names(model, pks) -> str:
    if model is Permission:
        rows = Permission.objects.filter(pk__in=pks).values_list("content_type__app_label", "codename")
        return ", ".join(sorted(f"{app}.{code}" for app, code in rows))
    return ", ".join(sorted(str(name) for name in model.objects.filter(pk__in=pks).values_list("name", flat=True)))


def _m2m(kind: str, related_model):
    def receiver(sender, instance, action, reverse, model, pk_set, **kwargs):
        User = get_user_model()
        if action == "pre_clear":
            # What a clear removes is gone after it: remember it now.
            instance._audit_cleared = set(
                getattr(instance, "user_set" if reverse else field_name).values_list("pk", flat=True))
            return
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        pks = instance.__dict__.pop("_audit_cleared", set()) if action == "post_clear" else set(pk_set or ())
        if not pks:
            return
        verb = "added" if action == "post_add" else "removed"
        if not reverse:  # user.groups.add(...) / user.user_permissions.remove(...)
            record(kind, target=instance.get_username(), detail=f"{verb}: {_names(related_model, pks)}")
        else:  # group.user_set.add(...) / permission.user_set.remove(...)
            what = _names(related_model, [instance.pk])
            for user in User.objects.filter(pk__in=pks):
                record(kind, target=user.get_username(), detail=f"{verb}: {what}")

    field_name = "groups" if related_model is Group else "user_permissions"
    return receiver


# --- API tokens ----------------------------------------------------------------------------------------

def before_token_save(sender, instance, raw=False, **kwargs):
    if raw:
        return
    instance._audit_old = (sender.objects.filter(pk=instance.pk).values("scopes", "revoked_at").first()
                           if instance.pk else None)


def after_token_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    target = f"{instance.name} ({instance.prefix}…)"
    scopes = ", ".join(instance.scopes or ()) or "—"
    if created:
        record(Kind.TOKEN_ISSUED, target=target, shop=instance.shop, detail=f"scopes: {scopes}")
        return
    old = getattr(instance, "_audit_old", None)
    if old is None:
        return
    if list(old["scopes"] or ()) != list(instance.scopes or ()):
        before = ", ".join(old["scopes"] or ()) or "—"
        record(Kind.TOKEN_SCOPES_CHANGED, target=target, shop=instance.shop, detail=f"scopes: {before} → {scopes}")
    if old["revoked_at"] is None and instance.revoked_at is not None:
        record(Kind.TOKEN_REVOKED, target=target, shop=instance.shop, detail=f"scopes: {scopes}")


def connect() -> None:
    from shops.models import ShopApiToken, ShopMembership

    User = get_user_model()
    uid = "audit:"
    user_logged_in.connect(on_login, dispatch_uid=uid + "login")
    user_logged_out.connect(on_logout, dispatch_uid=uid + "logout")
    user_login_failed.connect(on_login_failed, dispatch_uid=uid + "login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid=uid + "locked_out")
    pre_save.connect(before_membership_save, sender=ShopMembership, dispatch_uid=uid + "membership_pre")
    post_save.connect(after_membership_save, sender=ShopMembership, dispatch_uid=uid + "membership_post")
    post_delete.connect(after_membership_delete, sender=ShopMembership, dispatch_uid=uid + "membership_del")
    pre_save.connect(before_user_save, sender=User, dispatch_uid=uid + "user_pre")
    post_save.connect(after_user_save, sender=User, dispatch_uid=uid + "user_post")
    m2m_changed.connect(_m2m(Kind.GROUPS_CHANGED, Group), sender=User.groups.through, dispatch_uid=uid + "groups",
                        weak=False)
    m2m_changed.connect(_m2m(Kind.PERMISSIONS_CHANGED, Permission), sender=User.user_permissions.through,
                        dispatch_uid=uid + "perms", weak=False)
    pre_save.connect(before_token_save, sender=ShopApiToken, dispatch_uid=uid + "token_pre")
    post_save.connect(after_token_save, sender=ShopApiToken, dispatch_uid=uid + "token_post")
