"""Settings for a deployment behind HTTPS: ``DJANGO_SETTINGS_MODULE=studio.settings_production``.

Passes ``manage.py check --deploy``. Plain-HTTP localhost use keeps ``studio.settings``.
"""

from studio.settings import *  # noqa: F403

DEBUG = False
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
