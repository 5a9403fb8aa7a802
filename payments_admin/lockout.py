"""The answer to a locked-out admin login (django-axes): a page saying when to try again, HTTP 429."""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.contrib import admin
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    # Each refused attempt restarts the cool-off (axes' AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT).
    since = getattr(request, "axes_attempt_time", None) or timezone.now()
    retry_at = since + cool_off
    seconds = max(1, math.ceil((retry_at - timezone.now()).total_seconds()))
    context = {
        **admin.site.each_context(request),
        "title": _("Sign-in paused"),
        "retry_at": timezone.localtime(retry_at),
        "minutes": math.ceil(seconds / 60),
    }
    response = render(request, "admin/login_locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
