"""ASGI entry point served by Daphne. HTTP (pages, API, SSE) goes through Django."""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

application = ProtocolTypeRouter({"http": get_asgi_application()})
