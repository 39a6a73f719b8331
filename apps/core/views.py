"""Core pages: the profile page with the API token, the password change, the favicon."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse_lazy
from rest_framework.authtoken.models import Token


def profile(request: HttpRequest) -> HttpResponse:
    """Shows (and on POST, rotates) the user's API token."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "core/profile.html", {"token": token.key})


class PasswordChange(PasswordChangeView):
    """Any logged-in user changes their own password (the admin's form needs staff).

    Django's view checks the old password, runs the password validators and keeps the
    session logged in (``update_session_auth_hash``); back on the profile, a message says so.
    """

    template_name = "core/password_change.html"
    success_url = reverse_lazy("profile")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Your password was changed.")
        return response


@login_not_required
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """``/favicon.ico``, asked for by browsers on their own: the SVG icon in static files.

    A redirect, so the static files server decides the content type (``image/svg+xml``)
    and the caching; no login, as browsers ask before anyone has logged in.
    """
    return HttpResponseRedirect(static("studio/favicon.svg"))
