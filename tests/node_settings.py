"""Settings of the web nodes tests/test_two_nodes.py starts: the product's own settings,
read from the environment as in production, with the suite's fast password hasher (the
test's users are created with it)."""

from crm.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
