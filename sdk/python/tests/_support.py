"""Shared by the tests: the package from this tree, the repository's files,
key values, and the running Signet the Go test started (if any)."""

from __future__ import annotations

import base64
import os
import struct
import sys
import unittest
import zlib
from typing import Dict

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)  # sdk/python
REPO = os.path.dirname(os.path.dirname(PACKAGE_ROOT))
VECTORS = os.path.join(REPO, "verifier", "testdata", "signed-url-vectors.json")
SIGNED_URLS_DOC = os.path.join(REPO, "docs", "signed-urls.md")

# Test the package in this tree, not an installed copy.
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)


def make_key(prefix: str = "sk_", random: bytes = b"") -> str:
    """A well-formed API key value (valid checksum) that no server knows."""
    raw = random or os.urandom(32)
    crc = zlib.crc32(prefix.encode("ascii") + raw)
    return prefix + base64.urlsafe_b64encode(raw + struct.pack(">I", crc)).decode("ascii")


# The variables tests/sdk_python_test.go sets. Without SIGNET_TEST_SITE the
# tests that need a server are skipped (a standalone run); with it, every
# other variable must be set too, and those tests run (and may fail).
SERVER_VARS = (
    "SIGNET_TEST_SITE",  # http://127.0.0.1:port of the site
    "SIGNET_TEST_FILES",  # the directory the site serves
    "SIGNET_TEST_ADMIN_KEY",  # a site administrator's key (admin over /)
    "SIGNET_TEST_OFFLINE_KEY",  # a sign key over / with offline signing
    "SIGNET_TEST_READ_KEY",  # a read key over /
    "SIGNET_TEST_LIMITED_SITE",  # a site with rate_limit key 1 1s
    "SIGNET_TEST_LIMITED_KEY",  # a sign key used only there
)

NO_SERVER = "no running Signet: set SIGNET_TEST_SITE and the others (tests/sdk_python_test.go does)"


def server_env(test: unittest.TestCase) -> Dict[str, str]:
    """The server's variables; skips the test without SIGNET_TEST_SITE,
    fails it if the others are incomplete."""
    if not os.environ.get("SIGNET_TEST_SITE"):
        raise unittest.SkipTest(NO_SERVER)
    missing = [v for v in SERVER_VARS if not os.environ.get(v)]
    if missing:
        test.fail("SIGNET_TEST_SITE is set but not %s" % ", ".join(missing))
    return {v: os.environ[v] for v in SERVER_VARS}
