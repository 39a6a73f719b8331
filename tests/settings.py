"""Test settings: a throw-away workspace and a file-based test database.

Both are exported as environment variables so that subprocesses started by tests
(workers, Daphne) see the same workspace, database and Redis.
"""

import os
import tempfile

if "STUDIO_TEST_ROOT" not in os.environ:
    os.environ["STUDIO_TEST_ROOT"] = tempfile.mkdtemp(prefix="studio-test-")
_root = os.environ["STUDIO_TEST_ROOT"]
if not os.environ.get("STUDIO_TEST_CHILD"):  # children get the workspace of their test
    os.environ["STUDIO_WORKSPACE"] = os.path.join(_root, "ws")
os.environ.setdefault("STUDIO_TEST_DB_PATH", os.path.join(_root, "test-mirror.sqlite3"))
# Playwright's sync API runs an event loop in the test thread; the ORM calls made
# by the test itself are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from studio.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STUDIO_JOB_LEASE_SECONDS = 6
