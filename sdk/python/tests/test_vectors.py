"""The test vectors of verifier/testdata/signed-url-vectors.json, and the
signer checked against the documented one (docs/signed-urls.md)."""

from __future__ import annotations

import json
import random
import re
import unittest
import urllib.parse

import _support  # noqa: F401  (puts the package of this tree first)

from signet_client import (
    Signer,
    canonical_query,
    derive_key_id,
    derive_offline_secret,
    sign_token,
    sign_url,
)


def load_vectors() -> dict:
    with open(_support.VECTORS, encoding="utf-8") as f:
        return json.load(f)


def strip_param(raw_query: str, param: str = "sig") -> str:
    """The query without the signature parameter, byte for byte otherwise."""
    keep = []
    for piece in raw_query.split("&"):
        if piece and canonical_query(piece.partition("=")[0] + "=") == param + "=":
            continue
        keep.append(piece)
    return "&".join(keep)


class TestVectors(unittest.TestCase):
    """Every vector's token, from its secret, claims and target; and the
    same token from each request its checks accept, signed as received."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.doc = load_vectors()

    def sign(self, v: dict, host: str, path: str, query: str) -> str:
        c = v["claims"]
        return sign_token(
            v["secret"]["id"],
            bytes.fromhex(v["secret"]["key_hex"]),
            issued_at=c["issued_at"],
            expires_at=c["expires_at"],
            url_id=c["id"],
            key_id=c["key_id"],
            prefix=c["prefix"],
            host=host,
            path=path,
            query=query,
            **c.get("policy", {}),
        )

    def test_vectors(self) -> None:
        vectors = self.doc["vectors"]
        self.assertGreaterEqual(len(vectors), 16)
        for v in vectors:
            with self.subTest(v["name"]):
                t = v["target"]
                self.assertEqual(canonical_query(t["raw_query"]), v["canonical_query"])
                self.assertEqual(self.sign(v, t["host"], t["path"], t["raw_query"]), v["token"])

    def test_accepted_requests(self) -> None:
        checked = 0
        for v in self.doc["vectors"]:
            for k in v["checks"]:
                if k["error"] != "" or v["token"] not in k["request_uri"]:
                    continue
                raw_path, _, raw_query = k["request_uri"].partition("?")
                path = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8")
                query = strip_param(raw_query)
                if v["claims"]["prefix"]:
                    query = ""  # a prefix token binds no query
                with self.subTest(v["name"], request=k["request_uri"]):
                    self.assertEqual(self.sign(v, k["host"], path, query), v["token"])
                checked += 1
        self.assertGreater(checked, 20)


class TestOfflineVectors(unittest.TestCase):
    """The offline section: a key value, what is derived from it, the
    signer's inputs and the exact token, URL and path form."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.cases = load_vectors().get("offline")

    def test_offline(self) -> None:
        self.assertIsNotNone(self.cases, "verifier/testdata/signed-url-vectors.json has no offline section")
        self.assertGreaterEqual(len(self.cases), 11)
        for case in self.cases:
            with self.subTest(case.get("name", case["token"][:20])):
                key = case["api_key"]
                self.assertEqual(derive_key_id(key), case["key_id"])
                self.assertEqual(derive_offline_secret(key).hex(), case["secret_hex"])
                signer = Signer(key)
                self.assertEqual(signer.key_id, case["key_id"])
                args, kwargs = offline_inputs(case["inputs"])
                link = signer.sign_link(*args, **kwargs)
                self.assertEqual(link.token, case["token"])
                self.assertEqual(link.url, case["url"])
                self.assertEqual(link.path_url, case.get("path_url") or None)
                # The function and the Signer agree, in both forms.
                self.assertEqual(sign_url(args[0], args[1], key, args[2], **kwargs), case["url"])
                if kwargs.get("folder"):
                    self.assertEqual(
                        sign_url(args[0], args[1], key, args[2], path_form=True, **kwargs), case["path_url"]
                    )
                claims = case["claims"]
                self.assertEqual((link.issued_at.timestamp(), link.expires_at.timestamp()),
                                 (claims["issued_at"], claims["expires_at"]))
                self.assertEqual(link.path if link.folder else "", claims["prefix"])

    def test_offline_accepted_requests(self) -> None:
        # Each request a case accepts, signed as received with the key's
        # secret and the case's claims, gives the case's token.
        checked = 0
        for case in self.cases or []:
            policies = case["inputs"].get("policies") or {}
            for k in case["checks"]:
                if k["error"] != "" or case["token"] not in k["request_uri"]:
                    continue
                raw_path, _, raw_query = k["request_uri"].partition("?")
                if raw_path.startswith(case["inputs"]["api"] + "/t/"):
                    raw_path = raw_path.split("/t/", 1)[1].split("/", 1)[1]
                    raw_path = "/" + raw_path
                path = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8")
                param = case["inputs"].get("param") or "sig"
                prefix = case["claims"]["prefix"]
                with self.subTest(case["name"], request=k["request_uri"]):
                    token = sign_token(
                        case["key_id"], bytes.fromhex(case["secret_hex"]),
                        issued_at=case["claims"]["issued_at"], expires_at=case["claims"]["expires_at"],
                        url_id=case["inputs"]["url_id"], key_id=case["key_id"], prefix=prefix,
                        host=k["host"], path=path, query="" if prefix else strip_param(raw_query, param),
                        **policies,
                    )
                    self.assertEqual(token, case["token"])
                checked += 1
        self.assertGreater(checked, 10)


def offline_inputs(inputs: dict):
    """sign_link's arguments from a vector's inputs; unset policies are
    their zero values there ("", false, 0)."""
    kwargs = {
        "folder": bool(inputs.get("folder", False)),
        "now": inputs["now"],
        "url_id": inputs["url_id"],
    }
    if inputs.get("param"):
        kwargs["param"] = inputs["param"]
    if inputs.get("api"):
        kwargs["api"] = inputs["api"]
    # A query is a raw string (byte for byte) or pairs (escaped here).
    if inputs.get("query"):
        kwargs["query"] = inputs["query"]
    if inputs.get("query_pairs"):
        kwargs["query"] = [tuple(p) for p in inputs["query_pairs"]]
    for name, value in (inputs.get("policies") or {}).items():
        if value not in ("", False, 0, None):
            kwargs[name] = value
    return (inputs["base_url"], inputs["path"], inputs["expires_in"]), kwargs


def documented_signer() -> dict:
    """The Python signer of docs/signed-urls.md ("A signer in Python"),
    executed as written there."""
    with open(_support.SIGNED_URLS_DOC, encoding="utf-8") as f:
        doc = f.read()
    sec = doc.split("\n## A signer in Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", sec, re.S)
    if len(blocks) != 1:
        raise AssertionError("docs/signed-urls.md: want one python block under 'A signer in Python'")
    ns: dict = {}
    exec(compile(blocks[0], "docs/signed-urls.md", "exec"), ns)  # noqa: S102 - the project's own doc
    return ns


# Pieces of random paths and queries: non-ASCII, reserved characters,
# spaces, "+", "%" (never followed by two hex digits in a path), ";".
SEGMENTS = ["a", "photos", "café", "фото", "2026 лето", "a+b", "100%", "x;y=1", "[1]", "it's", "a&b",
            "日本語", "~me", "é", "Q1 (final)", "a=b", "#tag", "?", "!$*,", "@home", ".well-known", "v1.2"]
QUERY_TEXT = ["1", "a b", "a+b", "%", "100%", "a&b", "a=b", "é", "/x/y", "", "~", ";", "#", "?", "日本",
              "%41", "+", "sig2", "x y+z"]


class TestAgainstDocumentedSigner(unittest.TestCase):
    """Random links, signed by this library and checked with the signer of
    docs/signed-urls.md (tested there against every vector): the same
    token from the same claims, and URLs whose path and query a server
    decodes back into what was signed."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.ns = documented_signer()
        cls.key = _support.make_key(random=bytes(range(32)))
        cls.signer = Signer(cls.key)
        cls.secret = derive_offline_secret(cls.key)

    def check(self, rng: random.Random, folder: bool) -> None:
        # A folder (a scope) holds no ";", "*" or "?".
        segments = [x for x in SEGMENTS if not (folder and set(x) & set(";*?"))]
        path = "/" + "/".join(rng.choice(segments) for _ in range(rng.randint(1, 4)))
        if folder or rng.random() < 0.2:
            path += "/"
        pairs = []
        if not folder:
            for _ in range(rng.randint(0, 5)):
                pairs.append((rng.choice(QUERY_TEXT), rng.choice(QUERY_TEXT)))
        policies = {}
        if not folder and rng.random() < 0.5:
            policies["download_name"] = rng.choice(["Résumé \"final\"; v2.pdf", "a b.txt", "日本語.pdf", "x%20y"])
        if not folder and rng.random() < 0.3:
            policies["inline"] = True
        if not folder and rng.random() < 0.3:
            policies["content_type"] = rng.choice(["text/plain; charset=utf-8", "image/png", "application/pdf"])
        if rng.random() < 0.3:
            policies["max_uses"] = rng.randint(1, 1000000)
        if rng.random() < 0.3:
            policies["client_cidr"] = rng.choice(["203.0.113.0/24", "2001:db8::/32", "127.0.0.1", "::1"])
        base = rng.choice(["https://files.example.com", "http://127.0.0.1:8080", "https://Files.Example.COM:443",
                           "http://[2001:db8::1]:8080"])
        now = rng.randint(1, 2**37)
        life = rng.randint(1, 604800)
        url_id = bytes(rng.getrandbits(8) for _ in range(16))
        link = self.signer.sign_link(base, path, life, folder=folder, query=pairs or None, now=now,
                                     url_id=url_id, **policies)
        u = urllib.parse.urlsplit(link.url)
        # The URL's path decodes to the path signed (the folder, for a folder link).
        want_path = link.path
        self.assertEqual(urllib.parse.unquote_to_bytes(u.path).decode("utf-8"), want_path)
        self.assertNotIn("?", u.path)
        raw_query = strip_param(u.query)
        got_pairs = [tuple(urllib.parse.unquote(x) for x in p.split("=", 1)) for p in raw_query.split("&") if p]
        self.assertEqual(got_pairs, pairs)
        self.assertEqual(u.query.rsplit("&", 1)[-1], "sig=" + link.token)
        # The documented signer makes the same token from the request as a
        # server sees it.
        doc_policies = dict(policies)
        if "client_cidr" in doc_policies and "/" not in doc_policies["client_cidr"]:
            doc_policies["client_cidr"] += "/32" if "." in doc_policies["client_cidr"] else "/128"
        want = self.ns["sign"](
            self.signer.key_id, self.secret, now + life, now, _b64(url_id), self.signer.key_id,
            link.path if folder else "", u.netloc, want_path, raw_query, **doc_policies,
        )
        self.assertEqual(link.token, want, link.url)
        if folder:
            self.assertEqual(link.path_url, "%s://%s/_signet/v1/t/%s%s" % (u.scheme, u.netloc, link.token, u.path))

    def test_random_file_links(self) -> None:
        rng = random.Random(14)
        for i in range(400):
            with self.subTest(i=i):
                self.check(rng, folder=False)

    def test_random_folder_links(self) -> None:
        rng = random.Random(15)
        for i in range(150):
            with self.subTest(i=i):
                self.check(rng, folder=True)

    def test_raw_query_byte_for_byte(self) -> None:
        # A str query goes into the URL as given; the token binds its
        # canonical form, so any spelling of the same query gives one token.
        for q in ["b=2&a=1", "a=1&b=2", "a=%31&b=2", "b=2&&a=1&", "z=%7e%41&y=A+B;C&x=%2b", "é=ü "]:
            link = self.signer.sign_link("https://h.example", "/f.txt", 60, query=q, now=1000, url_id=bytes(16))
            self.assertTrue(link.url.startswith("https://h.example/f.txt?" + q + "&sig="), link.url)
            want = self.ns["sign"](self.signer.key_id, self.secret, 1060, 1000, _b64(bytes(16)), self.signer.key_id,
                                   "", "h.example", "/f.txt", q)
            self.assertEqual(link.token, want, q)
        same = [
            self.signer.sign_link("https://h.example", "/f.txt", 60, query=q, now=1000, url_id=bytes(16)).token
            for q in ["b=2&a=1", "a=1&b=2", "a=%31&b=%32", "&a=1&&b=2&"]
        ]
        self.assertEqual(len(set(same)), 1)


def _b64(b: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


if __name__ == "__main__":
    unittest.main()
