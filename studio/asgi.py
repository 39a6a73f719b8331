"""ASGI entry point served by Daphne. HTTP (pages, API, SSE) goes through Django.

Django is wrapped in :class:`apps.core.asgi_guard.RequestGuard`, which refuses an anonymous
or oversized request body before any of it is read; under Daphne the same checks also run
inside the server (:mod:`apps.core.daphne_guard`), which otherwise receives the whole body
before it calls the application.
"""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

django_application = get_asgi_application()  # sets Django up before apps.* is imported

from apps.core import daphne_guard  # noqa: E402
from apps.core.asgi_guard import RequestGuard  # noqa: E402

daphne_guard.install()
application = ProtocolTypeRouter({"http": RequestGuard(django_application)})
