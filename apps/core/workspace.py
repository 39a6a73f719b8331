"""The configured workspace, for the Django layers."""

from django.conf import settings

from studio.storage.paths import Workspace


def ws() -> Workspace:
    workspace: Workspace = settings.WORKSPACE
    return workspace
