"""Input validation of the offline signer: what Signet would refuse is
refused here, with a message that names the argument."""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct
import unittest

import _support

from signet_client import (
    SignedLink,
    Signer,
    canonical_query,
    check_content_type,
    check_download_name,
    check_path,
    derive_key_id,
    parse_client_cidr,
    sign_token,
    sign_url,
)

KEY = _support.make_key(random=b"\x07" * 32)
BASE = "https://files.example.com"


def decode(token: str) -> dict:
    """An independent reading of a token's payload (docs/signed-urls.md)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert raw[0] == 1
    i = 1
    n = raw[i]
    sid = raw[i + 1 : i + 1 + n].decode()
    i += 1 + n
    exp, iat = struct.unpack(">QQ", raw[i : i + 16])
    i += 16
    url_id = raw[i : i + 16]
    i += 16
    n = raw[i]
    kid = raw[i + 1 : i + 1 + n].decode()
    i += 1 + n
    cons = []
    end = len(raw) - 32
    while i < end:
        typ, length = raw[i], struct.unpack(">H", raw[i + 1 : i + 3])[0]
        cons.append((typ, raw[i + 3 : i + 3 + length]))
        i += 3 + length
    assert i == end
    return {"secret_id": sid, "expires_at": exp, "issued_at": iat, "url_id": url_id, "key_id": kid, "constraints": cons}


def token_of(url: str) -> str:
    m = re.search(r"[?&]sig=([A-Za-z0-9_-]+)$", url)
    assert m, url
    return m.group(1)


class TestKeys(unittest.TestCase):
    def test_derived_id(self) -> None:
        kid = derive_key_id(KEY)
        self.assertRegex(kid, r"^key_[a-z2-7]{16}$")
        self.assertEqual(Signer(KEY).key_id, kid)
        self.assertEqual(derive_key_id(_support.make_key("pk_", b"\x07" * 32)), derive_key_id(_support.make_key("pk_", b"\x07" * 32)))
        self.assertNotEqual(derive_key_id(_support.make_key()), kid)

    def test_refused(self) -> None:
        flipped = KEY[:10] + ("A" if KEY[10] != "A" else "B") + KEY[11:]
        cases = [
            (None, TypeError, "key: must be a str"),
            (b"sk_" + b"A" * 48, TypeError, "key: must be a str"),
            ("", ValueError, "not an API key"),
            (KEY[:-1], ValueError, "not an API key"),
            (KEY + "A", ValueError, "not an API key"),
            ("xk_" + KEY[3:], ValueError, "not an API key"),
            (KEY[:20] + "=" + KEY[21:], ValueError, "not an API key"),
            (KEY[:20] + "+" + KEY[21:], ValueError, "not an API key"),
            (flipped, ValueError, "checksum"),
            (_support.make_key("pk_"), ValueError, "public keys (pk_) cannot sign"),
        ]
        for key, exc, msg in cases:
            with self.subTest(key=key):
                with self.assertRaises(exc) as cm:
                    sign_url(BASE, "/a.txt", key, 60)
                self.assertIn(msg, str(cm.exception))
                if isinstance(key, str) and len(key) > 8:
                    self.assertNotIn(key[3:], str(cm.exception))  # never the value
                with self.assertRaises(exc):
                    Signer(key)

    def test_repr_hides_the_key(self) -> None:
        s = Signer(KEY)
        self.assertNotIn(KEY[3:], repr(s))
        self.assertIn(s.key_id, repr(s))


class TestFileLinks(unittest.TestCase):
    def test_claims(self) -> None:
        link = Signer(KEY).sign_link(BASE, "/reports/q1.pdf", 300, now=1767261600)
        self.assertIsInstance(link, SignedLink)
        p = decode(link.token)
        kid = derive_key_id(KEY)
        self.assertEqual((p["secret_id"], p["key_id"]), (kid, kid))  # key-signed: secret id = key id
        self.assertEqual((p["issued_at"], p["expires_at"]), (1767261600, 1767261900))
        self.assertEqual(p["constraints"], [])
        self.assertEqual(base64.urlsafe_b64encode(p["url_id"]).rstrip(b"=").decode(), link.id)
        self.assertEqual(link.url, BASE + "/reports/q1.pdf?sig=" + link.token)
        self.assertEqual(link.path, "/reports/q1.pdf")
        self.assertFalse(link.folder)
        self.assertIsNone(link.path_url)
        self.assertEqual(link.issued_at, dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.timezone.utc))
        self.assertEqual(link.expires_at - link.issued_at, dt.timedelta(seconds=300))

    def test_random_ids(self) -> None:
        s = Signer(KEY)
        ids = {s.sign_link(BASE, "/a.txt", 60, now=1000).id for _ in range(50)}
        self.assertEqual(len(ids), 50)

    def test_now_forms(self) -> None:
        s = Signer(KEY)
        t = dt.datetime(2026, 1, 1, 10, 0, 0, 900000, tzinfo=dt.timezone.utc)
        for now in (1767261600, 1767261600.9, t, t.astimezone(dt.timezone(dt.timedelta(hours=5)))):
            self.assertEqual(decode(s.sign_link(BASE, "/a", 60, now=now).token)["issued_at"], 1767261600)
        with self.assertRaisesRegex(ValueError, "now: a datetime must be timezone-aware"):
            s.sign_url(BASE, "/a", 60, now=dt.datetime(2026, 1, 1))
        for bad in (True, "1767261600"):
            with self.assertRaises(TypeError):
                s.sign_url(BASE, "/a", 60, now=bad)
        with self.assertRaisesRegex(ValueError, "now:"):
            s.sign_url(BASE, "/a", 60, now=0)

    def test_lifetimes(self) -> None:
        s = Signer(KEY)
        for ok, secs in ((1, 1), (604800, 604800), (dt.timedelta(minutes=5), 300), (dt.timedelta(days=7), 604800)):
            p = decode(s.sign_link(BASE, "/a", ok, now=1000).token)
            self.assertEqual(p["expires_at"] - p["issued_at"], secs)
        for bad in (0, -1, 604801, dt.timedelta(days=8), dt.timedelta(0)):
            with self.assertRaisesRegex(ValueError, r"expires_in: must be between 1 and 604800"):
                s.sign_url(BASE, "/a", bad)
        with self.assertRaisesRegex(ValueError, "expires_in: must be a whole number"):
            s.sign_url(BASE, "/a", dt.timedelta(seconds=1.5))
        for bad in (1.5, "60", True, None):
            with self.assertRaisesRegex(TypeError, "expires_in"):
                s.sign_url(BASE, "/a", bad)

    def test_escaping(self) -> None:
        s = Signer(KEY)
        cases = {
            "/docs/café menu.pdf": "/docs/caf%C3%A9%20menu.pdf",
            "/a+b;c=d [1] 100%.txt": "/a%2Bb%3Bc%3Dd%20%5B1%5D%20100%25.txt",
            "/фото/2026 лето/": "/%D1%84%D0%BE%D1%82%D0%BE/2026%20%D0%BB%D0%B5%D1%82%D0%BE/",
            "/~me/-._/x": "/~me/-._/x",
            "/it's/#1?/(x)": "/it%27s/%231%3F/%28x%29",
            "/": "/",
        }
        for path, escaped in cases.items():
            with self.subTest(path):
                self.assertEqual(s.sign_url(BASE, path, 60).split("?sig=")[0], BASE + escaped)

    def test_queries(self) -> None:
        s = Signer(KEY)

        def q(query) -> str:
            return s.sign_url(BASE, "/a", 60, query=query).split("?", 1)[1].rsplit("&sig=", 1)[0]

        self.assertEqual(q("b=2&a=1"), "b=2&a=1")
        self.assertEqual(q("x=a+b;c&y=%2b"), "x=a+b;c&y=%2b")
        self.assertEqual(q({"q": "a b", "x": "1+2", "é": "ü"}), "q=a%20b&x=1%2B2&%C3%A9=%C3%BC")
        self.assertEqual(q([("b", "2"), ("a", "1"), ("a", 0)]), "b=2&a=1&a=0")
        self.assertEqual(q({"tag": ["x", "y"], "n": 3}), "tag=x&tag=y&n=3")
        self.assertEqual(q([("a&b", "c=d"), ("%", "100%")]), "a%26b=c%3Dd&%25=100%25")
        # No query: no "&".
        self.assertEqual(s.sign_url(BASE, "/a", 60, query="").count("?"), 1)
        self.assertNotIn("&", s.sign_url(BASE, "/a", 60, query={}))
        for bad, msg in (
            ("a=1&sig=x", "signature parameter 'sig'"),
            ("%73ig=x", "signature parameter 'sig'"),
            ([("sig", "x")], "signature parameter 'sig'"),
            ("a=%zz", "invalid percent-encoding"),
            ("a=%4", "invalid percent-encoding"),
            ("?a=1", "leading '?'"),
            ("a=1#frag", "'#'"),
            ("a=" + "x" * 7101, "longer than 7102 bytes"),
        ):
            with self.subTest(bad=bad[:20]):
                with self.assertRaisesRegex(ValueError, "^query: .*" + re.escape(msg)):
                    s.sign_url(BASE, "/a", 60, query=bad)
        s.sign_url(BASE, "/a", 60, query="a=" + "x" * 7100)  # 7102 bytes
        for bad in (b"a=1", [("a", None)], [("a", b"x")], [("a",)], [("a", True)]):
            with self.assertRaises(TypeError):
                s.sign_url(BASE, "/a", 60, query=bad)
        # Another parameter name.
        url = s.sign_url(BASE, "/a", 60, query="sig=kept", param="token")
        self.assertRegex(url, r"\?sig=kept&token=[A-Za-z0-9_-]+$")
        for bad in ("", "s g", "x" * 65, "é"):
            with self.assertRaisesRegex(ValueError, "param:"):
                s.sign_url(BASE, "/a", 60, param=bad)

    def test_paths(self) -> None:
        refused = [
            "", "a.txt", "/a/../b", "/a/./b", "/..", "/a//b", "//a", "/a/b.", "/a/b ", "/a/b.pdf.",
            "/a\\b", "/a/%2e%2e/b", "/a/%2F", "/a/%41", "/a/%u002e", "/a\x00b", "/a\tb", "/a\x7f", "/a\u0085",
            "/a\uff0fb", "/a\u2215b", "/a\uff0e\uff0e/b", "/a\uff3cb", "/;x/a", "/a/..;x/b", "/a.;x/b",
            "/a \u3000/b", "/a\u2000", "/a\ud800b", "/...",
        ]
        for p in refused:
            with self.subTest(p=p):
                with self.assertRaisesRegex(ValueError, "^path: .* is ambiguous: "):
                    check_path(p)
                with self.assertRaisesRegex(ValueError, "^path: "):
                    sign_url(BASE, p, KEY, 60)
        accepted = ["/", "/a", "/a/", "/100%.txt", "/a;b", "/a;b/c", "/.well-known/x", "/a.b/c", "/café/x y.pdf",
                    "/a\u3000b", "/a..b", "/a~", "/*?", "/%zz", "/%u12"]
        for p in accepted:
            with self.subTest(p=p):
                check_path(p)
                sign_url(BASE, p, KEY, 60)
        with self.assertRaises(TypeError):
            sign_url(BASE, b"/a", KEY, 60)
        with self.assertRaisesRegex(ValueError, "path: longer than 4096"):
            sign_url(BASE, "/" + "a" * 4096, KEY, 60)
        with self.assertRaisesRegex(ValueError, "path: longer than 4096"):
            sign_url(BASE, "/" + "é" * 1000, KEY, 60)  # 2001 bytes, 6001 escaped
        with self.assertRaisesRegex(ValueError, "percent-encoding|decoded"):
            check_path("/caf%C3%A9")

    def test_base_urls(self) -> None:
        for ok, want in (
            ("https://files.example.com", "https://files.example.com/a?"),
            ("https://files.example.com/", "https://files.example.com/a?"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/a?"),
            ("http://[::1]:8080", "http://[::1]:8080/a?"),
            ("HTTPS://Files.Example.COM:443", "HTTPS://Files.Example.COM:443/a?"),
        ):
            self.assertTrue(sign_url(ok, "/a", KEY, 60).startswith(want), ok)
        for bad in ("files.example.com", "ftp://h", "https://h/path", "https://h/a/", "https://h?x=1", "https://h#x",
                    "https://u@h", "https://h:99999", "https://h:port", "https://", "https://h h", "//h"):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "^base_url: "):
                    sign_url(bad, "/a", KEY, 60)
        with self.assertRaisesRegex(ValueError, "punycode"):
            sign_url("https://bücher.example", "/a", KEY, 60)
        with self.assertRaises(TypeError):
            sign_url(None, "/a", KEY, 60)

    def test_host_binding(self) -> None:
        # Host case and default ports are one host to the verifier.
        s = Signer(KEY)
        tokens = {
            token_of(s.sign_url(b, "/a", 60, now=1000, url_id=bytes(16)))
            for b in ("https://files.example.com", "https://FILES.example.com:443", "http://files.example.com:80")
        }
        self.assertEqual(len(tokens), 1)
        self.assertNotEqual(
            token_of(s.sign_url("https://files.example.com:8443", "/a", 60, now=1000, url_id=bytes(16))), tokens.pop()
        )

    def test_url_ids(self) -> None:
        s = Signer(KEY)
        self.assertEqual(s.sign_link(BASE, "/a", 60, url_id=bytes(range(16))).id, "AAECAwQFBgcICQoLDA0ODw")
        self.assertEqual(s.sign_link(BASE, "/a", 60, url_id="AAECAwQFBgcICQoLDA0ODw").id, "AAECAwQFBgcICQoLDA0ODw")
        for bad in (bytes(15), "AAECAwQFBgcICQoLDA0OD", "AAECAwQFBgcICQoLDA0ODx", "AAECAwQFBgcICQoLDA0OD="):
            with self.assertRaisesRegex(ValueError, "url_id:"):
                s.sign_url(BASE, "/a", 60, url_id=bad)


class TestFolderLinks(unittest.TestCase):
    def test_prefix(self) -> None:
        s = Signer(KEY)
        a = s.sign_link(BASE, "/movie", 60, folder=True, now=1000, url_id=bytes(16))
        b = s.sign_link(BASE, "/movie/", 60, folder=True, now=1000, url_id=bytes(16))
        self.assertEqual(a, b)
        self.assertEqual(a.path, "/movie/")
        self.assertTrue(a.folder)
        self.assertEqual(decode(a.token)["constraints"], [(1, b"/movie/")])
        self.assertEqual(a.url, BASE + "/movie/?sig=" + a.token)
        self.assertEqual(a.path_url, BASE + "/_signet/v1/t/" + a.token + "/movie/")
        self.assertEqual(s.sign_url(BASE, "/movie", 60, folder=True, path_form=True, now=1000, url_id=bytes(16)),
                         a.path_url)
        self.assertEqual(s.sign_url(BASE, "/movie", 60, folder=True, now=1000, url_id=bytes(16)), a.url)
        # Another api prefix, another parameter name.
        c = s.sign_link(BASE, "/фото", 60, folder=True, api="/files-api/", param="t")
        self.assertTrue(c.path_url.startswith(BASE + "/files-api/t/" + c.token + "/%D1%84%D0%BE%D1%82%D0%BE/"))
        self.assertTrue(c.url.endswith("/%D1%84%D0%BE%D1%82%D0%BE/?t=" + c.token))
        d = s.sign_link(BASE, "/", 60, folder=True)
        self.assertEqual(d.path, "/")

    def test_refused(self) -> None:
        s = Signer(KEY)
        for bad, msg in (
            ("/a;b", "a folder must be a clean absolute path"),
            ("/a/../b", "a folder must be a clean absolute path"),
            ("/a*", "a folder must be a clean absolute path"),
            ("/a?", "a folder must be a clean absolute path"),
            ("a", "a folder must be a clean absolute path"),
            ("/" + "a" * 199, "a folder link's path must be at most 200 bytes"),
        ):
            with self.subTest(bad=bad[:20]):
                with self.assertRaisesRegex(ValueError, "^path: " + msg):
                    s.sign_url(BASE, bad, 60, folder=True)
        s.sign_url(BASE, "/" + "a" * 198, 60, folder=True)  # 200 bytes with its "/"
        with self.assertRaisesRegex(ValueError, "^query: a folder link binds no query"):
            s.sign_url(BASE, "/movie", 60, folder=True, query="a=1")
        for field, value in (("download_name", "x.txt"), ("inline", True), ("content_type", "text/plain")):
            with self.assertRaisesRegex(ValueError, "^%s: a folder link cannot set response headers" % field):
                s.sign_url(BASE, "/movie", 60, folder=True, **{field: value})
        link = s.sign_link(BASE, "/movie", 60, folder=True, max_uses=3, client_cidr="10.0.0.0/8")
        self.assertEqual(decode(link.token)["constraints"],
                         [(1, b"/movie/"), (4, b"\x00\x00\x00\x03"), (5, b"\x0a\x00\x00\x00\x08")])
        with self.assertRaisesRegex(ValueError, "path_form: only a folder link"):
            s.sign_url(BASE, "/a", 60, path_form=True)
        with self.assertRaisesRegex(ValueError, "^api: "):
            s.sign_url(BASE, "/a", 60, folder=True, api="/")
        with self.assertRaisesRegex(ValueError, "^api: "):
            s.sign_url(BASE, "/a", 60, folder=True, api="relative")
        with self.assertRaises(TypeError):
            s.sign_url(BASE, "/a", 60, folder="yes")


class TestPolicies(unittest.TestCase):
    def cons(self, **policies) -> list:
        return decode(Signer(KEY).sign_link(BASE, "/a.pdf", 60, **policies).token)["constraints"]

    def test_encoding(self) -> None:
        self.assertEqual(self.cons(download_name="Résumé \"final\"; v2.pdf"),
                         [(2, b"\x00" + "Résumé \"final\"; v2.pdf".encode())])
        self.assertEqual(self.cons(inline=True), [(2, b"\x01")])
        self.assertEqual(self.cons(inline=True, download_name="a b.pdf"), [(2, b"\x01a b.pdf")])
        self.assertEqual(self.cons(content_type="text/plain; charset=utf-8"), [(3, b"text/plain; charset=utf-8")])
        self.assertEqual(self.cons(max_uses=1), [(4, b"\x00\x00\x00\x01")])
        self.assertEqual(self.cons(max_uses=1000000), [(4, struct.pack(">I", 1000000))])
        self.assertEqual(self.cons(client_cidr="203.0.113.7"), [(5, bytes([203, 0, 113, 7, 32]))])
        self.assertEqual(self.cons(client_cidr="::ffff:203.0.113.0/120"), [(5, bytes([203, 0, 113, 0, 24]))])
        self.assertEqual(self.cons(client_cidr="2001:db8::/32"), [(5, bytes.fromhex("20010db8" + "00" * 12) + b"\x20")])
        self.assertEqual(self.cons(download_name="", content_type="", client_cidr=""), [])
        every = self.cons(download_name="x", inline=True, content_type="image/png", max_uses=2, client_cidr="10.0.0.0/8")
        self.assertEqual([t for t, _ in every], [2, 3, 4, 5])

    def test_download_names(self) -> None:
        for bad, msg in (
            (".", 'cannot be "." or ".."'), ("..", 'cannot be "." or ".."'), ("a/b", 'contains "/" or "\\"'),
            ("a\\b", 'contains "/" or "\\"'), (" x", "starts or ends with a space"),
            ("x ", "starts or ends with a space"), ("a\x07b", "contains a control character"), ("a\r\nb", "contains a control character"),
            ("a\u0085", "contains a control character"), ("a" * 201, "is longer than 200 bytes"), ("é" * 101, "is longer than 200 bytes"),
            ("a\ud800", "is not valid UTF-8"),
        ):
            with self.subTest(bad=bad[:10]):
                with self.assertRaisesRegex(ValueError, "^download_name: download name " + re.escape(msg)):
                    sign_url(BASE, "/a", KEY, 60, download_name=bad)
                with self.assertRaisesRegex(ValueError, "^download_name: "):
                    check_download_name(bad)
        check_download_name("a" * 200)
        check_download_name("日本語 \"Q1\"; 100%.pdf")
        with self.assertRaises(TypeError):
            sign_url(BASE, "/a", KEY, 60, download_name=5)

    def test_content_types(self) -> None:
        for bad, msg in (
            ("text", "must be a type/subtype"), ("text/*", "cannot be a wildcard"), ("*/*", "cannot be a wildcard"),
            ("tëxt/plain", "must be printable ASCII"), ("text/plain\r\n", "must be printable ASCII"),
            ("text/plain; charset", "is not a valid media type"), (" text/plain", "starts or ends with a space"),
            ("text/plain ", "starts or ends with a space"), ("text/", "is not a valid media type"),
            ("/plain", "is not a valid media type"), ("text/plain x", "is not a valid media type"),
            ("text/plain; a=1; a=2", "is not a valid media type"), ('text/plain; a="x', "is not a valid media type"),
            ("a/" + "b" * 99, "is longer than 100 bytes"),
        ):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "^content_type: content type " + re.escape(msg)):
                    sign_url(BASE, "/a", KEY, 60, content_type=bad)
        for active in ("text/html", "TEXT/HTML; charset=utf-8", "application/xhtml+xml", "image/svg+xml",
                       "application/javascript", "text/javascript", "application/ecmascript", "text/xml",
                       "application/xml", "text/xsl", "multipart/mixed", "multipart/x-mixed-replace; boundary=x"):
            with self.subTest(active=active):
                with self.assertRaisesRegex(ValueError, "^content_type: types a browser runs as a page or a script"):
                    sign_url(BASE, "/a", KEY, 60, content_type=active)
                # The format takes it; only Signet's signing rules refuse it.
                check_content_type(active, signet_rules=False)
        for ok in ("text/plain", "application/pdf", "text/plain; charset=utf-8", 'text/plain; charset="utf-8"',
                   "text/plain;charset=utf-8;", "text/plain; a=1; a=1", "video/mp4; codecs=\"avc1.42E01E\"",
                   "application/octet-stream", "text/markdown; charset=utf-8", "a/" + "b" * 98):
            with self.subTest(ok=ok):
                check_content_type(ok)
                sign_url(BASE, "/a", KEY, 60, content_type=ok)

    def test_max_uses(self) -> None:
        for bad in (0, -1, 1000001, 2**32):
            with self.assertRaisesRegex(ValueError, "^max_uses: must be a whole number from 1 to 1000000"):
                sign_url(BASE, "/a", KEY, 60, max_uses=bad)
        for bad in ("3", 1.5, True):
            with self.assertRaisesRegex(TypeError, "^max_uses"):
                sign_url(BASE, "/a", KEY, 60, max_uses=bad)

    def test_client_cidrs(self) -> None:
        for bad, msg in (
            ("203.0.113.7/24", "client CIDR has host bits set: did you mean 203.0.113.0/24?"),
            ("2001:db8::1/32", "client CIDR has host bits set: did you mean 2001:db8::/32?"),
            ("nonsense", "client CIDR must be an IP address or an address/length"),
            ("10.0.0.0/33", "client CIDR must be an IP address"),
            ("10.0.0.0/024", "client CIDR must be an IP address"),
            ("10.0.0.0/255.0.0.0", "client CIDR must be an IP address"),
            ("10.0.0.0/-1", "client CIDR must be an IP address"),
            ("010.0.0.0/8", "client CIDR must be an IP address"),
            ("fe80::1%eth0", "client CIDR cannot have an IPv6 zone (%)"),
            ("::/129", "client CIDR must be an IP address"),
        ):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "^client_cidr: " + re.escape(msg)):
                    sign_url(BASE, "/a", KEY, 60, client_cidr=bad)
        self.assertEqual(parse_client_cidr("127.0.0.1"), (bytes([127, 0, 0, 1]), 32))
        self.assertEqual(parse_client_cidr("::1"), (bytes(15) + b"\x01", 128))
        self.assertEqual(parse_client_cidr("0.0.0.0/0"), (bytes(4), 0))
        import ipaddress

        self.assertEqual(parse_client_cidr(ipaddress.ip_network("10.0.0.0/8")), (bytes([10, 0, 0, 0]), 8))
        with self.assertRaises(TypeError):
            sign_url(BASE, "/a", KEY, 60, client_cidr=5)
        with self.assertRaises(TypeError):
            sign_url(BASE, "/a", KEY, 60, inline="yes")


class TestLowLevel(unittest.TestCase):
    """sign_token: explicit claims and secret, the format's checks only."""

    args = dict(issued_at=1000, expires_at=2000, url_id=bytes(16), host="h.example", path="/a/b.txt")

    def sign(self, **kw) -> str:
        a = dict(self.args)
        a.update(kw)
        return sign_token(a.pop("secret_id", "s1"), a.pop("secret", bytes(32)), **a)

    def test_refused(self) -> None:
        for kw, exc, msg in (
            (dict(secret_id=""), ValueError, "secret_id"),
            (dict(secret_id="a" * 33), ValueError, "secret_id"),
            (dict(secret_id="a.b"), ValueError, "secret_id"),
            (dict(secret=bytes(31)), ValueError, "at least 32 bytes"),
            (dict(issued_at=0), ValueError, "0 < issued_at < expires_at"),
            (dict(expires_at=1000), ValueError, "0 < issued_at < expires_at"),
            (dict(expires_at=2**63), ValueError, "0 < issued_at < expires_at"),
            (dict(issued_at=1.5), TypeError, "issued_at"),
            (dict(key_id="a b"), ValueError, "key_id"),
            (dict(key_id="k" * 65), ValueError, "key_id"),
            (dict(prefix="/x/"), ValueError, "does not cover"),
            (dict(prefix="/a;/"), ValueError, "prefix"),
            (dict(prefix="/a/", query="x=1"), ValueError, "binds no query"),
            (dict(prefix="/" + "a" * 200), ValueError, "longer than 200"),
            (dict(host=""), ValueError, "host"),
            (dict(host=":443"), ValueError, "host"),
            (dict(host="h" * 301), ValueError, "host"),
            (dict(path="/a/../b"), ValueError, "path"),
            (dict(query="a=%g0"), ValueError, "percent"),
            (dict(content_type="text"), ValueError, "content_type"),
            (dict(max_uses=2**32), ValueError, "max_uses"),
            (dict(client_cidr="10.0.0.1/8"), ValueError, "client_cidr"),
            (dict(url_id=b"x"), ValueError, "url_id"),
        ):
            with self.subTest(kw=kw):
                with self.assertRaisesRegex(exc, re.escape(msg)):
                    self.sign(**kw)

    def test_format_only(self) -> None:
        # What the format allows and Signet's signing rules do not.
        self.sign(prefix="/a/", download_name="x", inline=True, content_type="text/html", max_uses=2**32 - 1)
        self.sign(max_uses=0)  # zero: no constraint
        self.assertEqual(decode(self.sign(max_uses=0))["constraints"], [])

    def test_canonical_query(self) -> None:
        table = {
            "b=2&a=1": "a=1&b=2",
            "a=%31&b": "a=1&b=",
            "z=%7e%41&y=A+B;C&x=%2b": "x=%2B&y=A+B;C&z=~A",
            "é=ü ": "%C3%A9=%C3%BC%20",
            "a=2&a=10&a=1": "a=1&a=10&a=2",
            "q=a+b&q=a%20b&x=1;y=2&empty&=v&%7Euser=~me&b=%2b": "=v&b=%2B&empty=&q=a%20b&q=a+b&x=1;y%3D2&~user=~me",
            "a=b=c": "a=b%3Dc",
            "": "",
            "&&": "",
            "a%00=1&a=1&a-=1&ab=1": "a=1&a%00=1&a-=1&ab=1",
        }
        for raw, want in table.items():
            self.assertEqual(canonical_query(raw), want, raw)
        self.assertEqual(canonical_query("a=1&sig=x&%73ig=y&b=2", skip="sig"), "a=1&b=2")
        self.assertEqual(canonical_query(b"\xff=1"), "%FF=1")
        with self.assertRaises(ValueError):
            canonical_query("a=%")


if __name__ == "__main__":
    unittest.main()


class TestLinkIDs(unittest.TestCase):
    def test_no_id_starts_with_a_dash(self) -> None:
        # One random id in 64 would; they are drawn again, so that no id
        # reads as a flag on a command line.
        signer = Signer(KEY)
        for _ in range(3000):
            link = signer.sign_link(BASE, "/r.pdf", 60)
            self.assertNotEqual(link.id[0], "-", link.id)
