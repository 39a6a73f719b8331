"""Core pages: the profile page with the API token."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.authtoken.models import Token


def profile(request: HttpRequest) -> HttpResponse:
    """Shows (and on POST, rotates) the user's API token."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "core/profile.html", {"token": token.key})
