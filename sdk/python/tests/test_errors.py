"""The typed errors, from the answers Signet gives (docs/openapi.yaml), and
the Client's checks that need no server."""

from __future__ import annotations

import datetime as dt
import json
import socket
import unittest

import _support

from signet_client import (
    APIError,
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    SignetError,
    Unauthorized,
    Unavailable,
    parse_time,
)
from signet_client.errors import error_from_response, parse_retry_after


def body(code: str, message: str, field: str = "") -> bytes:
    err = {"code": code, "message": message}
    if field:
        err["field"] = field
    return json.dumps({"error": err}).encode()


class TestErrors(unittest.TestCase):
    def test_by_status(self) -> None:
        for status, cls, code in (
            (400, BadRequest, "bad_request"),
            (401, Unauthorized, "unauthorized"),
            (403, Forbidden, "forbidden"),
            (404, NotFound, "not_found"),
            (409, Conflict, "conflict"),
            (429, RateLimited, "rate_limit_exceeded"),
            (503, Unavailable, "store_unavailable"),
            (405, APIError, "method_not_allowed"),
            (500, APIError, "internal_error"),
            (502, APIError, "origin_unavailable"),
        ):
            with self.subTest(status=status):
                e = error_from_response(status, {"Content-Type": "application/json"}, body(code, "why"))
                self.assertIs(type(e), cls)
                self.assertIsInstance(e, SignetError)
                self.assertEqual((e.status, e.code, e.message, e.field), (status, code, "why", None))
                self.assertIn("why", str(e))
                self.assertIn(str(status), str(e))

    def test_field(self) -> None:
        e = error_from_response(400, {}, body("bad_request", "expires_in: must be between 1 and 604800 seconds",
                                              "expires_in"))
        self.assertEqual(e.field, "expires_in")
        self.assertIn("field='expires_in'", repr(e))

    def test_retry_after(self) -> None:
        e = error_from_response(429, {"Retry-After": "20"}, body("rate_limit_exceeded", "too many requests"))
        self.assertEqual(e.retry_after, 20)
        e = error_from_response(503, {"retry-after": "5"}, body("store_unavailable", "try again"))
        self.assertIsInstance(e, Unavailable)
        self.assertEqual(e.retry_after, 5)
        e = error_from_response(503, {}, body("store_unavailable", "try again"))
        self.assertIsNone(e.retry_after)
        self.assertEqual(parse_retry_after(" 3 "), 3)
        self.assertIsNone(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"))
        self.assertIsNone(parse_retry_after("-1"))

    def test_other_bodies(self) -> None:
        e = error_from_response(502, {}, b"<html>Bad Gateway</html>")
        self.assertIsInstance(e, APIError)
        self.assertEqual((e.code, e.message), ("", "<html>Bad Gateway</html>"))
        e = error_from_response(403, {}, json.dumps({"error": "forbidden", "message": "no", "field": "x"}).encode())
        self.assertEqual((e.code, e.message, e.field), ("forbidden", "no", "x"))
        e = error_from_response(500, {}, b"\xff\xfe")
        self.assertEqual(e.status, 500)


class TestClientOffline(unittest.TestCase):
    def test_arguments(self) -> None:
        key = _support.make_key()
        for bad in ("files.example.com", "https://h/path", "ftp://h"):
            with self.assertRaisesRegex(ValueError, "^base_url: "):
                Client(bad, key)
        with self.assertRaises(TypeError):
            Client("https://h", None)  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, "^api: "):
            Client("https://h", key, api="/")
        with self.assertRaisesRegex(ValueError, "^retries: "):
            Client("https://h", key, retries=-1)
        c = Client("https://h", key)
        self.assertNotIn(key[3:-4], repr(c))
        for call in (lambda: c.sign("/", 60), lambda: c.sign("relative", 60), lambda: c.sign("", 60)):
            with self.assertRaisesRegex(ValueError, "^path: "):
                call()
        with self.assertRaises(TypeError):
            c.sign("/a", "60")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            c.get_key("")
        with self.assertRaisesRegex(ValueError, "timezone-aware"):
            c.create_key("x", expires_at=dt.datetime(2030, 1, 1))
        # Offline signing through the client: its base URL and key.
        url = c.sign_url("/a.txt", 60)
        self.assertTrue(url.startswith("https://h/a.txt?sig="))
        link = c.sign_link("/a.txt", 60, download_name="a.txt")
        self.assertEqual((link.path, link.url), ("/a.txt", "https://h/a.txt?sig=" + link.token))

    def test_no_server(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        with self.assertRaises(ConnectionFailed) as cm:
            Client("http://127.0.0.1:%d" % port, _support.make_key(), timeout=5).list_keys()
        self.assertEqual(cm.exception.status, 0)
        self.assertIn("cannot reach http://127.0.0.1:%d" % port, str(cm.exception))
        self.assertIsNotNone(cm.exception.__cause__)

    def test_parse_time(self) -> None:
        utc = dt.timezone.utc
        self.assertEqual(parse_time("2026-11-22T22:43:08Z"), dt.datetime(2026, 11, 22, 22, 43, 8, tzinfo=utc))
        self.assertEqual(parse_time("2026-12-01T13:09:12.868Z"),
                         dt.datetime(2026, 12, 1, 13, 9, 12, 868000, tzinfo=utc))
        self.assertEqual(parse_time("2026-12-01T13:09:12.8Z").microsecond, 800000)
        self.assertEqual(parse_time("2026-12-01T14:09:12+01:00"), dt.datetime(2026, 12, 1, 13, 9, 12, tzinfo=utc))


if __name__ == "__main__":
    unittest.main()
