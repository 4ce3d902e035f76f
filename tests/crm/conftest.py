"""Fixtures of the crm tests: the people the import fixture files name."""

from tests.crm.import_support import lena, sven  # noqa: F401
