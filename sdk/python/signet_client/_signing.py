"""Offline signing of Signet links: the version-1 token of docs/signed-urls.md.

Everything here is the standard library. The reference is the Go code in
``verifier/`` (``Sign``, ``CheckPath``, ``CheckScope``, ``CheckDownloadName``,
``CheckContentType``, ``ParseClientCIDR``) and ``rules/policy.go`` (Signet's
signing rules); the checks below follow them so that a link this module hands
out is one Signet accepts.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import ipaddress
import math
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote as _quote
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_API",
    "DEFAULT_PARAM",
    "MAX_LIFETIME",
    "MAX_MAX_USES",
    "QueryType",
    "SignedLink",
    "Signer",
    "canonical_query",
    "check_content_type",
    "check_download_name",
    "check_path",
    "derive_key_id",
    "derive_offline_secret",
    "parse_client_cidr",
    "sign_token",
    "sign_url",
]

# Limits of the format (verifier/token.go) and of Signet's signing rules.
MAX_TOKEN_LEN = 1024
MAX_QUERY_LEN = 8192
MAX_PARAM_LEN = 64
MAX_SIGN_QUERY_LEN = MAX_QUERY_LEN - MAX_TOKEN_LEN - (MAX_PARAM_LEN + 2)  # 7102
MAX_HOST_LEN = 300
MAX_PATH_LEN = 4096
MAX_PREFIX_LEN = 200
MAX_KEY_ID_LEN = 64
MAX_SECRET_ID_LEN = 32
MIN_SECRET_LEN = 32
MAX_DOWNLOAD_NAME_LEN = 200
MAX_CONTENT_TYPE_LEN = 100
MAX_LIFETIME = 7 * 24 * 3600  # Signet's cap on a link's lifetime, in seconds
MAX_MAX_USES = 1_000_000  # Signet's cap on max_uses (the format allows 2**32 - 1)
DEFAULT_API = "/_signet/v1"
DEFAULT_PARAM = "sig"

KEY_LEN = 51  # "sk_" and 48 characters of base64url
_KEY_ID_LABEL = b"signet-key-id-v1\x00"
_OFFLINE_LABEL = b"signet-offline-v1"

QueryType = Union[str, Mapping[str, object], Sequence[Tuple[str, object]], None]
"""A query: a raw string used byte for byte, a mapping, or a list of pairs."""

_Now = Union[int, float, _dt.datetime, None]
_ExpiresIn = Union[int, _dt.timedelta]

# --------------------------------------------------------------------------
# API keys: shape, checksum and what is derived from the value.

_KEY_BODY = re.compile(r"[A-Za-z0-9_-]{48}\Z")


def _check_key(key: object, *, secret_only: bool) -> str:
    """Returns key if it is a well-formed API key (sk_ or pk_, 51
    characters, valid CRC-32); raises otherwise. Messages never hold the
    value."""
    if not isinstance(key, str):
        raise TypeError("key: must be a str, the API key's value (sk_ and 48 characters)")
    if len(key) != KEY_LEN or key[:3] not in ("sk_", "pk_") or not _KEY_BODY.match(key, 3):
        raise ValueError(
            "key: not an API key: want sk_ (or pk_) and 48 characters of base64url, "
            "51 characters in all, as shown when the key was created"
        )
    raw = base64.urlsafe_b64decode(key[3:])
    if struct.unpack(">I", raw[32:])[0] != zlib.crc32(key[:3].encode("ascii") + raw[:32]):
        raise ValueError("key: the checksum does not match: the key was mistyped or cut")
    if secret_only and key[:3] != "sk_":
        raise ValueError(
            "key: public keys (pk_) cannot sign; use a secret key (sk_) created with offline signing"
        )
    return key


def derive_key_id(key: str) -> str:
    """The id of the API key whose value is ``key``: ``key_`` and 16
    characters of lowercase base32 of the first 10 bytes of
    SHA-256("signet-key-id-v1" NUL key). It is public, not a secret."""
    _check_key(key, secret_only=False)
    digest = hashlib.sha256(_KEY_ID_LABEL + key.encode("ascii")).digest()
    return "key_" + base64.b32encode(digest[:10]).decode("ascii").lower()


def derive_offline_secret(key: str) -> bytes:
    """The 32-byte secret that a secret key with offline signing signs with:
    HMAC-SHA256(key = the key's value, "signet-offline-v1")."""
    _check_key(key, secret_only=True)
    return hmac.new(key.encode("ascii"), _OFFLINE_LABEL, hashlib.sha256).digest()


# --------------------------------------------------------------------------
# Paths (verifier/path.go CheckPath, verifier/scope.go CheckScope).

# A character no path may hold (controls, DEL, C1, backslash, Windows
# best-fit look-alikes of ".", "/" and "\"), or an escape a second decoding
# would read ("%2e", IIS "%u002e").
_PATH_REFUSED = re.compile(
    "[\x00-\x1f\x7f-\x9f\\\\\uff0e\ufe52\u2024\u2025\uff0f\u2215\u2044\u29f8\uff3c\ufe68\u2216]"
    "|%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})"
)
# Characters no segment, and no segment before its first ";", may end in:
# "." and " " (Win32 strips them) and what best-fit turns into a space.
_BAD_END = frozenset(". \u2000\u2001\u2002\u2003\u2004\u2005\u2006\u3000")
# A path made only of such segments needs no more checks.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]*[A-Za-z0-9_~-])?)*/?\Z")


def _path_problem(path: str) -> Optional[str]:
    """Why CheckPath refuses path, or None."""
    if not path.startswith("/"):
        return "it must start with /"
    if _PLAIN_PATH.match(path):
        return None
    m = _PATH_REFUSED.search(path)
    if m:
        c = m.group()
        if c.startswith("%"):
            return (
                "%r would be decoded again by some origins: give the decoded path "
                "(this library escapes it)" % c
            )
        if c == "\\":
            return "it contains a backslash"
        if ord(c) < 0xA0:
            return "it contains a control character"
        return "it contains %r (U+%04X), which some origins read as '.', '/' or '\\'" % (c, ord(c))
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode (a lone surrogate)"
    segments = path.split("/")
    last = len(segments) - 1
    for i in range(1, len(segments)):
        seg = segments[i]
        if not seg:
            if i == last:
                continue  # a trailing slash, or the root "/"
            return "it has an empty segment (//)"
        if seg[-1] in _BAD_END:
            if seg.strip(".") == "":
                return "it has a '.' or '..' segment"
            return "a segment ends in a dot or a space (%r)" % seg
        j = seg.find(";")
        if j == 0:
            return "a segment starts with ';' (an empty segment to Tomcat, Jetty and Spring)"
        if j > 0 and seg[j - 1] in _BAD_END:
            return "a segment ends in a dot or a space before its ';' (%r)" % seg
    return None


def check_path(path: str) -> None:
    """Raises ValueError unless ``path``, a decoded path, is one Signet
    accepts (verifier.CheckPath): it starts with ``/``; no ``.``/``..`` or
    empty segments; no segment ending in a dot or a space; no backslash,
    control character or Windows look-alike of ``.``, ``/`` or ``\\``; no
    ``%`` followed by two hex digits (a second decoding would read it)."""
    if not isinstance(path, str):
        raise TypeError("path: must be a str, the decoded path such as /reports/q1.pdf")
    why = _path_problem(path)
    if why is not None:
        raise ValueError("path: %r is ambiguous: %s" % (_cut(path), why))


def _cut(s: str, n: int = 64) -> str:
    return s if len(s) <= n else s[:n] + "…"


def _scope_covers(scope: str, path: str) -> bool:
    if scope == "/":
        return True
    s = scope[:-1] if scope.endswith("/") else scope
    return path.startswith(s) and (len(path) == len(s) or path[len(s)] == "/")


# --------------------------------------------------------------------------
# Escaping and the canonical query (verifier/canonical.go).

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# The canonical spelling of each byte: itself if unreserved, else %XX.
_CANON_BYTE = [bytes([c]) if c in _UNRESERVED else b"%%%02X" % c for c in range(256)]
_CANON_PLAIN = re.compile(rb"[A-Za-z0-9._~+;-]*\Z")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _escape_path(path: str) -> str:
    """Each byte of path's UTF-8 that is neither unreserved nor "/" as %XX."""
    return _quote(path, safe="/")


def _escape_component(s: str) -> str:
    """A query name or value: each byte that is not unreserved as %XX."""
    return _quote(s, safe="")


def _canon(component: bytes) -> bytes:
    if _CANON_PLAIN.match(component):
        return component
    out = bytearray()
    i, n = 0, len(component)
    while i < n:
        c = component[i]
        if c == 0x25:  # %
            h = component[i + 1 : i + 3]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise ValueError("query: invalid percent-encoding (a '%' not followed by two hex digits)")
            out += _CANON_BYTE[int(h, 16)]
            i += 3
            continue
        if c == 0x2B or c == 0x3B:  # + and ; are kept as they are
            out.append(c)
        else:
            out += _CANON_BYTE[c]
        i += 1
    return bytes(out)


def _canonical_pairs(raw: bytes) -> List[Tuple[bytes, bytes]]:
    pairs = []
    for piece in raw.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        pairs.append((_canon(name), _canon(value)))
    return pairs


def canonical_query(raw_query: Union[str, bytes], skip: str = "") -> str:
    """The canonical form of a raw query (docs/signed-urls.md, "Canonical
    query"): pieces split on ``&`` (empty ones dropped), each name and value
    canonicalised byte by byte (``%XX`` decoded, ``+`` and ``;`` kept,
    every other byte not unreserved as uppercase ``%XX``), the pairs named
    ``skip`` dropped, sorted by name then value, joined as ``name=value``
    with ``&``. Raises ValueError for an invalid percent-encoding."""
    raw = raw_query.encode("utf-8") if isinstance(raw_query, str) else bytes(raw_query)
    pairs = _canonical_pairs(raw)
    if skip:
        s = skip.encode("utf-8")
        pairs = [p for p in pairs if p[0] != s]
    pairs.sort()
    return b"&".join(n + b"=" + v for n, v in pairs).decode("ascii")


def _query_text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError("query: %s must be a str or an int, got %s" % (what, type(value).__name__))


def _raw_query(query: QueryType) -> str:
    """The query as it goes into the URL (without the signature)."""
    if query is None:
        return ""
    if isinstance(query, str):
        if query.startswith("?"):
            raise ValueError("query: give it without the leading '?'")
        if "#" in query:
            raise ValueError("query: must not contain '#' (it would end the URL)")
        return query
    if isinstance(query, (bytes, bytearray)):
        raise TypeError("query: give a str (used byte for byte), a mapping or a list of (name, value) pairs")
    items: Iterable
    if isinstance(query, Mapping):
        items = query.items()
    else:
        items = query
    parts = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError("query: each pair must be (name, value), got %r" % (item,)) from None
        name = _query_text(name, "a name")
        if isinstance(value, (list, tuple)):
            values = [_query_text(v, "a value") for v in value]
        else:
            values = [_query_text(value, "a value")]
        for v in values:
            parts.append(_escape_component(name) + "=" + _escape_component(v))
    return "&".join(parts)


def _check_param(param: object) -> bytes:
    if not isinstance(param, str):
        raise TypeError("param: must be a str, the signature parameter's name (sig)")
    if not (1 <= len(param) <= MAX_PARAM_LEN) or not all(ord(c) < 128 and ord(c) in _UNRESERVED for c in param):
        raise ValueError("param: must be 1 to 64 unreserved characters (A-Z a-z 0-9 - . _ ~), such as sig")
    return param.encode("ascii")


# --------------------------------------------------------------------------
# Hosts and base URLs.


def _normalise_host(host: str) -> bytes:
    """The host as the MAC binds it: one trailing :80 or :443 removed, A-Z
    lowered (ASCII only)."""
    if host.endswith(":80"):
        host = host[:-3]
    elif host.endswith(":443"):
        host = host[:-4]
    return host.encode("ascii").translate(_LOWER)


_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_HOST_CHARS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:\[\]%-]+\Z")


@lru_cache(maxsize=256)
def _parse_base(base_url: str) -> Tuple[str, bytes]:
    """(the base as it starts every URL, the host the MAC binds)."""
    bad = (
        "base_url: %r: want scheme://host[:port] with no path, query or user, "
        "e.g. https://files.example.com" % _cut(base_url)
    )
    try:
        u = urlsplit(base_url)
        u.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(bad) from None
    if u.scheme.lower() not in ("http", "https") or not u.netloc or u.query or u.fragment:
        raise ValueError(bad)
    if "?" in base_url or "#" in base_url or "@" in u.netloc or u.path not in ("", "/"):
        raise ValueError(bad)
    host = u.netloc
    if not host.isascii():
        raise ValueError(
            "base_url: the host must be ASCII: give an internationalised name in its punycode "
            "form (xn--…), as browsers send it"
        )
    if not _HOST_CHARS.match(host):
        raise ValueError(bad)
    norm = _normalise_host(host)
    if not norm or len(host) > MAX_HOST_LEN:
        raise ValueError("base_url: the host must be 1 to %d bytes" % MAX_HOST_LEN)
    base = base_url[:-1] if base_url.endswith("/") else base_url
    return base, norm


def _check_api(api: object) -> str:
    if not isinstance(api, str):
        raise TypeError("api: must be a str, the API prefix such as /_signet/v1")
    if api.endswith("/") and len(api) > 1:
        api = api[:-1]
    if api == "/" or _path_problem(api) is not None or "?" in api or "#" in api:
        raise ValueError("api: %r is not a clean absolute path prefix such as /_signet/v1" % _cut(api))
    return api


# --------------------------------------------------------------------------
# Policies (verifier/policy.go, rules/policy.go).

_NAME_BAD = re.compile("[\x00-\x1f\x7f-\x9f/\\\\]")


def check_download_name(name: str) -> None:
    """Raises ValueError unless ``name`` can be a download name
    (verifier.CheckDownloadName): 1-200 bytes of UTF-8, no control
    characters, ``/`` or ``\\``, not ``.`` or ``..``, no leading or trailing
    space."""
    if not isinstance(name, str):
        raise TypeError("download_name: must be a str")
    why = _download_name_problem(name)
    if why:
        raise ValueError("download_name: " + why)


def _download_name_problem(name: str) -> Optional[str]:
    if name == "":
        return "download name is empty"
    try:
        n = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "download name is not valid UTF-8"
    if n > MAX_DOWNLOAD_NAME_LEN:
        return "download name is longer than %d bytes" % MAX_DOWNLOAD_NAME_LEN
    if name in (".", ".."):
        return 'download name cannot be "." or ".."'
    m = _NAME_BAD.search(name)
    if m:
        if m.group() in "/\\":
            return 'download name contains "/" or "\\"'
        return "download name contains a control character"
    if name[0] == " " or name[-1] == " ":
        return "download name starts or ends with a space"
    return None


_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


def _token_end(v: str, i: int = 0) -> int:
    n = len(v)
    while i < n and " " < v[i] < "\x7f" and v[i] not in _TSPECIALS:
        i += 1
    return i


def _consume_value(v: str) -> Tuple[str, str]:
    """A token or a quoted-string, as Go's mime.consumeValue reads it."""
    if not v:
        return "", ""
    if v[0] != '"':
        j = _token_end(v)
        return v[:j], v[j:]
    buf = []
    i = 1
    while i < len(v):
        r = v[i]
        if r == '"':
            return "".join(buf), v[i + 1 :]
        if r == "\\" and i + 1 < len(v) and v[i + 1] in _TSPECIALS:
            buf.append(v[i + 1])
            i += 2
            continue
        if r in "\r\n":
            return "", v
        buf.append(r)
        i += 1
    return "", v


def _consume_param(v: str) -> Tuple[str, str, str]:
    rest = v.lstrip(" ")
    if not rest.startswith(";"):
        return "", "", v
    rest = rest[1:].lstrip(" ")
    j = _token_end(rest)
    param, rest = rest[:j].lower(), rest[j:]
    if not param:
        return "", "", v
    rest = rest.lstrip(" ")
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip(" ")
    value, rest2 = _consume_value(rest)
    if value == "" and rest2 == rest:
        return "", "", v
    return param, value, rest2


def _media_type(v: str) -> Optional[str]:
    """The lowercased media type of v as Go's mime.ParseMediaType reads it,
    or None where it answers an error. v is printable ASCII."""
    base = v.split(";", 1)[0]
    mt = base.lower().strip(" ")
    j = _token_end(mt)
    if j == 0:
        return None
    rest = mt[j:]
    if rest:
        if not rest.startswith("/"):
            return None
        k = _token_end(rest, 1)
        if k == 1 or k != len(rest):
            return None
    params: dict = {}
    continuation: dict = {}
    v = v[len(base) :]
    while v:
        v = v.lstrip(" ")
        if not v:
            break
        key, value, rest = _consume_param(v)
        if not key:
            if rest.strip(" ") == ";":
                break
            return None
        pmap = continuation.setdefault(key.split("*", 1)[0], {}) if "*" in key else params
        if key in pmap and pmap[key] != value:
            return None
        pmap[key] = value
        v = rest
    return mt


def _content_type_problem(ct: str) -> Optional[str]:
    if ct == "":
        return "content type is empty"
    if len(ct) > MAX_CONTENT_TYPE_LEN:
        return "content type is longer than %d bytes" % MAX_CONTENT_TYPE_LEN
    if not all(" " <= c <= "~" for c in ct):
        return "content type must be printable ASCII"
    if ct[0] == " " or ct[-1] == " ":
        return "content type starts or ends with a space"
    mt = _media_type(ct)
    if mt is None:
        return "content type is not a valid media type"
    if "/" not in mt:
        return "content type must be a type/subtype, such as text/plain"
    if "*" in mt:
        return "content type cannot be a wildcard (*)"
    return None


def _active_content_type(ct: str) -> bool:
    mt = _media_type(ct)
    if mt is None:
        return True
    return (
        "html" in mt
        or mt.endswith("/xml")
        or mt.endswith("+xml")
        or "javascript" in mt
        or "ecmascript" in mt
        or mt.startswith("multipart/")
        or mt == "text/xsl"
    )


def check_content_type(content_type: str, *, signet_rules: bool = True) -> None:
    """Raises ValueError unless ``content_type`` can be a link's content
    type (verifier.CheckContentType): a ``type/subtype`` with optional
    parameters, 1-100 bytes of printable ASCII without outer spaces or
    wildcards. With ``signet_rules`` (the default) it also refuses the types
    Signet will not let a link set: those a browser runs as a page or a
    script (HTML, XHTML, SVG, XML, JavaScript, multipart)."""
    if not isinstance(content_type, str):
        raise TypeError("content_type: must be a str")
    why = _content_type_problem(content_type)
    if why:
        raise ValueError("content_type: " + why)
    if signet_rules and _active_content_type(content_type):
        raise ValueError(
            "content_type: types a browser runs as a page or a script "
            "(HTML, XHTML, SVG, XML, JavaScript) cannot be set by a link"
        )


_CIDR_BITS = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")


def parse_client_cidr(cidr: object) -> Tuple[bytes, int]:
    """The network of a client CIDR as the token carries it: (the address,
    4 or 16 bytes; the prefix length). Like verifier.ParseClientCIDR it
    takes an address (a /32 or /128) or a network without host bits, no
    IPv6 zone, and an IPv4-mapped IPv6 network in its IPv4 form.
    ``ipaddress`` objects are accepted too."""
    if isinstance(cidr, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        cidr = str(cidr)
    if not isinstance(cidr, str):
        raise TypeError("client_cidr: must be a str such as 203.0.113.0/24")
    syntax = "client_cidr: client CIDR must be an IP address or an address/length, such as 203.0.113.0/24"
    if cidr == "":
        raise ValueError("client_cidr: client CIDR is empty")
    if "%" in cidr:
        raise ValueError("client_cidr: client CIDR cannot have an IPv6 zone (%)")
    addr_text, slash, bits_text = cidr.partition("/")
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        raise ValueError(syntax) from None
    if slash:
        if not _CIDR_BITS.match(bits_text) or int(bits_text) > addr.max_prefixlen:
            raise ValueError(syntax)
        bits = int(bits_text)
    else:
        bits = addr.max_prefixlen
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None and bits >= 96:
        addr, bits = addr.ipv4_mapped, bits - 96
    net = ipaddress.ip_network((addr, bits), strict=False)
    if net.network_address != addr:
        raise ValueError("client_cidr: client CIDR has host bits set: did you mean %s?" % net)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise ValueError("client_cidr: client CIDR must give an IPv4-mapped address in its IPv4 form")
    return addr.packed, bits


def _constraint(typ: int, value: bytes) -> bytes:
    return bytes((typ,)) + len(value).to_bytes(2, "big") + value


def _policy_constraints(
    download_name: Optional[str],
    inline: bool,
    content_type: Optional[str],
    max_uses: Optional[int],
    client_cidr: object,
    *,
    signet_rules: bool,
    folder: bool,
) -> bytes:
    """Constraints 0x02-0x05 of the policy, checked, in type order."""
    if download_name is None:
        download_name = ""
    if content_type is None:
        content_type = ""
    if client_cidr is None:
        client_cidr = ""
    if not isinstance(inline, bool):
        raise TypeError("inline: must be a bool")
    if signet_rules and folder:
        for field, given in (
            ("download_name", download_name != ""),
            ("inline", inline),
            ("content_type", content_type != ""),
        ):
            if given:
                raise ValueError(
                    "%s: a folder link cannot set response headers for its files; sign a file link" % field
                )
    out = b""
    if download_name != "":
        check_download_name(download_name)
    if download_name != "" or inline:
        out += _constraint(0x02, (b"\x01" if inline else b"\x00") + download_name.encode("utf-8"))
    if content_type != "":
        check_content_type(content_type, signet_rules=signet_rules)
        out += _constraint(0x03, content_type.encode("ascii"))
    if max_uses is not None and (signet_rules or max_uses != 0):
        # Signet's rule: None is "any number", 0 is refused as the API
        # refuses it. The format's (sign_token): 0 is "any number".
        if isinstance(max_uses, bool) or not isinstance(max_uses, int):
            raise TypeError("max_uses: must be an int")
        top = MAX_MAX_USES if signet_rules else 2**32 - 1
        if not 1 <= max_uses <= top:
            raise ValueError("max_uses: must be a whole number from 1 to %d" % top)
        out += _constraint(0x04, struct.pack(">I", max_uses))
    if client_cidr != "":
        packed, bits = parse_client_cidr(client_cidr)
        out += _constraint(0x05, packed + bytes((bits,)))
    return out


# --------------------------------------------------------------------------
# Claims: times and URL ids.


def _lifetime(expires_in: object) -> int:
    if isinstance(expires_in, bool):
        raise TypeError("expires_in: must be an int (seconds) or a datetime.timedelta")
    if isinstance(expires_in, int):
        seconds = expires_in
    elif isinstance(expires_in, _dt.timedelta):
        if expires_in.microseconds:
            raise ValueError("expires_in: must be a whole number of seconds")
        seconds = expires_in.days * 86400 + expires_in.seconds
    else:
        raise TypeError("expires_in: must be an int (seconds) or a datetime.timedelta")
    if not 1 <= seconds <= MAX_LIFETIME:
        raise ValueError("expires_in: must be between 1 and %d seconds (7 days)" % MAX_LIFETIME)
    return seconds


def _unix(t: object, what: str) -> int:
    if isinstance(t, bool):
        raise TypeError("%s: must be unix seconds (int or float) or an aware datetime" % what)
    if isinstance(t, int):
        return t
    if isinstance(t, float):
        if not math.isfinite(t):
            raise ValueError("%s: must be a finite number" % what)
        return math.floor(t)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
            raise ValueError("%s: a datetime must be timezone-aware (e.g. datetime.now(timezone.utc))" % what)
        return math.floor(t.timestamp())
    raise TypeError("%s: must be unix seconds (int or float) or an aware datetime" % what)


_URL_ID_TEXT = re.compile(r"[A-Za-z0-9_-]{22}\Z")


def _url_id(url_id: object) -> bytes:
    if url_id is None:
        # Drawn again while the text form would start with "-" (one time in
        # 64), so that no id reads as a flag on a command line.
        while True:
            b = os.urandom(16)
            if b[0] >> 2 != 62:
                return b
    if isinstance(url_id, (bytes, bytearray)):
        if len(url_id) != 16:
            raise ValueError("url_id: must be 16 bytes")
        return bytes(url_id)
    if isinstance(url_id, str):
        if _URL_ID_TEXT.match(url_id):
            raw = base64.urlsafe_b64decode(url_id + "==")
            if _b64(raw) == url_id:
                return raw
        raise ValueError("url_id: must be 22 characters of base64url (16 bytes)")
    raise TypeError("url_id: must be 16 bytes or their 22 characters of base64url")


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


_LAST_ISSUE = 253402300799 - MAX_LIFETIME  # so that expires_at is a datetime (year 9999)


def _utc(t: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc)


# --------------------------------------------------------------------------
# The token.

_F_LABEL = b"\x00\x0asignet-url"
_F_GET = b"\x00\x03GET"
_TIMES = struct.Struct(">QQ")


def _token(mac: "hmac.HMAC", head: bytes, times: bytes, url_id: bytes, kid: bytes, constraints: bytes,
           host_field: bytes, bound: bytes, cq: bytes) -> str:
    """head: version and secret id; kid: the key id with its length;
    host_field: F(host); bound: the path or prefix; cq: the canonical query."""
    payload = b"".join((head, times, url_id, kid, constraints))
    m = mac.copy()
    m.update(
        b"".join(
            (
                _F_LABEL,
                len(payload).to_bytes(2, "big"),
                payload,
                host_field,
                _F_GET,
                len(bound).to_bytes(2, "big"),
                bound,
                len(cq).to_bytes(2, "big"),
                cq,
            )
        )
    )
    token = base64.urlsafe_b64encode(payload + m.digest()).rstrip(b"=").decode("ascii")
    if len(token) > MAX_TOKEN_LEN:
        raise ValueError("cannot sign: token longer than %d bytes" % MAX_TOKEN_LEN)
    return token


def _host_field(host: bytes) -> bytes:
    return len(host).to_bytes(2, "big") + host


_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
_KEY_ID = re.compile(r"[!-~]{0,64}\Z")


def sign_token(
    secret_id: str,
    secret: bytes,
    *,
    issued_at: int,
    expires_at: int,
    url_id: Union[bytes, str],
    host: str,
    path: str,
    query: str = "",
    key_id: str = "",
    prefix: str = "",
    download_name: str = "",
    inline: bool = False,
    content_type: str = "",
    max_uses: int = 0,
    client_cidr: str = "",
) -> str:
    """Signs explicit claims with an explicit secret and returns the token:
    the lower level that :class:`Signer` is built on, as ``verifier.Sign``.

    ``host`` is the request's host (authority) as sent, ``path`` the decoded
    path, ``query`` the raw query without the signature parameter. With a
    ``prefix`` (a prefix token, such as a folder link) the token binds the
    prefix instead of the path, which it must cover, and no query.

    It checks what the format needs (ids, lengths, a clean path and
    prefix, well-formed policies, a valid query) but not Signet's signing
    rules (lifetime, folder policies, active content types): sign links
    for Signet with :class:`Signer` or :func:`sign_url`.
    """
    if not isinstance(secret_id, str) or not _SECRET_ID.match(secret_id):
        raise ValueError("secret_id: must be 1 to 32 characters of [A-Za-z0-9_-]")
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < MIN_SECRET_LEN:
        raise ValueError("secret: must be at least %d bytes" % MIN_SECRET_LEN)
    for name, t in (("issued_at", issued_at), ("expires_at", expires_at)):
        if isinstance(t, bool) or not isinstance(t, int):
            raise TypeError("%s: must be an int (unix seconds)" % name)
    if not 0 < issued_at < expires_at < 2**63:
        raise ValueError("cannot sign: need 0 < issued_at < expires_at < 2**63")
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ValueError("key_id: must be at most %d printable ASCII characters (no space)" % MAX_KEY_ID_LEN)
    if not isinstance(prefix, str):
        raise TypeError("prefix: must be a str")
    if prefix:
        if len(prefix.encode("utf-8", "surrogatepass")) > MAX_PREFIX_LEN:
            raise ValueError("prefix: longer than %d bytes" % MAX_PREFIX_LEN)
        if _path_problem(prefix) is not None or "*" in prefix or "?" in prefix:
            raise ValueError("prefix: not a clean absolute path prefix")
    if not isinstance(host, str):
        raise TypeError("host: must be a str")
    try:
        norm = _normalise_host(host)
    except UnicodeEncodeError:
        raise ValueError("host: must be ASCII (the punycode form)") from None
    if not norm or len(host) > MAX_HOST_LEN:
        raise ValueError("host: missing or longer than %d bytes" % MAX_HOST_LEN)
    check_path(path)
    bpath = path.encode("utf-8")
    if len(bpath) > MAX_PATH_LEN:
        raise ValueError("path: longer than %d bytes" % MAX_PATH_LEN)
    if not isinstance(query, str):
        raise TypeError("query: must be a str (the raw query)")
    bquery = query.encode("utf-8")
    if len(bquery) > MAX_SIGN_QUERY_LEN:
        raise ValueError("query: longer than %d bytes" % MAX_SIGN_QUERY_LEN)
    if prefix and not _scope_covers(prefix, path):
        raise ValueError("cannot sign: the prefix does not cover the path")
    if prefix and query:
        raise ValueError("cannot sign: a folder token binds no query; sign it without one")
    constraints = _policy_constraints(
        download_name, inline, content_type, max_uses, client_cidr, signet_rules=False, folder=bool(prefix)
    )
    if prefix:
        bound = prefix.encode("utf-8")
        constraints = _constraint(0x01, bound) + constraints
        cq = b""
    else:
        bound = bpath
        pairs = _canonical_pairs(bquery)
        pairs.sort()
        cq = b"&".join(n + b"=" + v for n, v in pairs)
    sid = secret_id.encode("ascii")
    kid = key_id.encode("ascii")
    return _token(
        hmac.new(bytes(secret), digestmod=hashlib.sha256),
        b"\x01" + bytes((len(sid),)) + sid,
        _TIMES.pack(expires_at, issued_at),
        _url_id(url_id),
        bytes((len(kid),)) + kid,
        constraints,
        _host_field(norm),
        bound,
        cq,
    )


@dataclass(frozen=True)
class SignedLink:
    """A link signed offline.

    ``url`` is the link (for a folder link, the folder's URL with the token
    in the query); ``path_url`` a folder link's path form (None for a file
    link); ``id`` the URL id, by which the link can be revoked
    (``Client.revoke(id=...)``); ``path`` what it grants (the file, or the
    folder ending in ``/``)."""

    url: str
    token: str
    id: str
    path: str
    folder: bool
    issued_at: _dt.datetime
    expires_at: _dt.datetime
    path_url: Optional[str] = None


class Signer:
    """Signs links offline with a secret API key created with offline
    signing (``"offline_signing": true``). The key id and the signing secret
    are derived once, at construction, and the keyed HMAC is prepared once,
    so signing many links costs one HMAC each.

    A Signer holds no mutable state and may be shared between threads. Its
    ``repr`` never shows the key."""

    __slots__ = ("_key_id", "_mac", "_head", "_kid")

    def __init__(self, key: str) -> None:
        _check_key(key, secret_only=True)
        self._key_id = derive_key_id(key)
        self._mac = hmac.new(derive_offline_secret(key), digestmod=hashlib.sha256)
        kid = self._key_id.encode("ascii")
        self._kid = bytes((len(kid),)) + kid
        self._head = b"\x01" + self._kid  # version, then secret id = key id

    @property
    def key_id(self) -> str:
        """The key's id (``key_`` and 16 characters), as the APIs show it."""
        return self._key_id

    def __repr__(self) -> str:
        return "Signer(key_id=%r)" % self._key_id

    def _sign(
        self,
        base_url: str,
        path: str,
        expires_in: _ExpiresIn,
        folder: bool,
        query: QueryType,
        param: str,
        api: Optional[str],
        now: _Now,
        url_id: object,
        download_name: Optional[str],
        inline: bool,
        content_type: Optional[str],
        max_uses: Optional[int],
        client_cidr: object,
    ) -> Tuple[str, str, bytes, str, int, int, Optional[str]]:
        """(url, token, url id, path granted, issued_at, expires_at, path_url)."""
        if not isinstance(base_url, str):
            raise TypeError("base_url: must be a str such as https://files.example.com")
        base, host = _parse_base(base_url)
        if not isinstance(path, str):
            raise TypeError("path: must be a str, the decoded path such as /reports/q1.pdf")
        if not isinstance(folder, bool):
            raise TypeError("folder: must be a bool")
        pname = b"sig" if param == "sig" else _check_param(param)
        lifetime = _lifetime(expires_in)
        issued = int(time.time()) if now is None else _unix(now, "now")
        if not 0 < issued <= _LAST_ISSUE:
            raise ValueError("now: must be after 1970 and before the year 9999")
        expires = issued + lifetime
        uid = _url_id(url_id)
        if download_name is None and not inline and content_type is None and max_uses is None and client_cidr is None:
            constraints = b""
        else:
            constraints = _policy_constraints(
                download_name, inline, content_type, max_uses, client_cidr, signet_rules=True, folder=folder
            )
        if folder:
            prefix = path if path.endswith("/") else path + "/"
            if _path_problem(prefix) is not None or "*" in prefix or "?" in prefix or ";" in prefix:
                raise ValueError(
                    "path: a folder must be a clean absolute path such as /movie/ (no ';'), got %r" % _cut(path)
                )
            bound = prefix.encode("utf-8")
            if len(bound) > MAX_PREFIX_LEN:
                raise ValueError("path: a folder link's path must be at most %d bytes" % MAX_PREFIX_LEN)
            if query is not None and _raw_query(query) != "":
                raise ValueError("query: a folder link binds no query; sign it without one")
            constraints = _constraint(0x01, bound) + constraints
            token = _token(self._mac, self._head, _TIMES.pack(expires, issued), uid, self._kid, constraints,
                           _host_field(host), bound, b"")
            escaped = _escape_path(prefix)
            url = "%s%s?%s=%s" % (base, escaped, pname.decode("ascii"), token)
            api_prefix = DEFAULT_API if api is None or api == DEFAULT_API else _check_api(api)
            path_url = "%s%s/t/%s%s" % (base, api_prefix, token, escaped)
            return url, token, uid, prefix, issued, expires, path_url
        check_path(path)
        bpath = path.encode("utf-8")
        escaped = _escape_path(path)
        if len(bpath) > MAX_PATH_LEN or len(escaped) > MAX_PATH_LEN:
            raise ValueError("path: longer than %d bytes" % MAX_PATH_LEN)
        raw = _raw_query(query)
        if raw:
            braw = raw.encode("utf-8")
            if len(braw) > MAX_SIGN_QUERY_LEN:
                raise ValueError("query: longer than %d bytes" % MAX_SIGN_QUERY_LEN)
            pairs = _canonical_pairs(braw)
            for n, _ in pairs:
                if n == pname:
                    raise ValueError(
                        "query: must not contain the signature parameter %r: the URL would carry it twice"
                        % pname.decode("ascii")
                    )
            pairs.sort()
            cq = b"&".join(n + b"=" + v for n, v in pairs)
            sep = "?" + raw + "&"
        else:
            cq = b""
            sep = "?"
        token = _token(self._mac, self._head, _TIMES.pack(expires, issued), uid, self._kid, constraints,
                       _host_field(host), bpath, cq)
        url = "%s%s%s%s=%s" % (base, escaped, sep, pname.decode("ascii"), token)
        return url, token, uid, path, issued, expires, None

    def sign_link(
        self,
        base_url: str,
        path: str,
        expires_in: _ExpiresIn,
        *,
        folder: bool = False,
        query: QueryType = None,
        param: str = DEFAULT_PARAM,
        api: str = DEFAULT_API,
        now: _Now = None,
        url_id: Union[bytes, str, None] = None,
        download_name: Optional[str] = None,
        inline: bool = False,
        content_type: Optional[str] = None,
        max_uses: Optional[int] = None,
        client_cidr: Optional[str] = None,
    ) -> SignedLink:
        """Like :meth:`sign_url`, but returns the whole :class:`SignedLink`
        (URL, path form, token, id, times)."""
        url, token, uid, granted, issued, expires, path_url = self._sign(
            base_url, path, expires_in, folder, query, param, api, now, url_id,
            download_name, inline, content_type, max_uses, client_cidr,
        )
        return SignedLink(
            url=url, token=token, id=_b64(uid), path=granted, folder=folder,
            issued_at=_utc(issued), expires_at=_utc(expires), path_url=path_url,
        )

    def sign_url(
        self,
        base_url: str,
        path: str,
        expires_in: _ExpiresIn,
        *,
        folder: bool = False,
        query: QueryType = None,
        param: str = DEFAULT_PARAM,
        api: str = DEFAULT_API,
        path_form: bool = False,
        now: _Now = None,
        url_id: Union[bytes, str, None] = None,
        download_name: Optional[str] = None,
        inline: bool = False,
        content_type: Optional[str] = None,
        max_uses: Optional[int] = None,
        client_cidr: Optional[str] = None,
    ) -> str:
        """Signs a link and returns its URL. See :func:`sign_url`."""
        if path_form and not folder:
            raise ValueError("path_form: only a folder link has a path form (give folder=True)")
        r = self._sign(
            base_url, path, expires_in, folder, query, param, api, now, url_id,
            download_name, inline, content_type, max_uses, client_cidr,
        )
        return r[6] if path_form else r[0]  # type: ignore[return-value]


@lru_cache(maxsize=32)
def _signer(key: str) -> Signer:
    return Signer(key)


def sign_url(
    base_url: str,
    path: str,
    key: str,
    expires_in: _ExpiresIn,
    *,
    folder: bool = False,
    query: QueryType = None,
    param: str = DEFAULT_PARAM,
    api: str = DEFAULT_API,
    path_form: bool = False,
    now: _Now = None,
    url_id: Union[bytes, str, None] = None,
    download_name: Optional[str] = None,
    inline: bool = False,
    content_type: Optional[str] = None,
    max_uses: Optional[int] = None,
    client_cidr: Optional[str] = None,
) -> str:
    """Signs a link offline with a secret API key that has offline signing,
    and returns its URL. No network call is made.

    :param base_url: ``scheme://host[:port]`` of the site, as the link will
        be requested (the host is bound into the token).
    :param path: the decoded path, such as ``/photos/café.jpg``; it is
        escaped here. For a folder link, the folder (``/movie`` and
        ``/movie/`` both grant ``/movie/`` and everything under it).
    :param key: the key's value, ``sk_…``.
    :param expires_in: the lifetime, whole seconds (int) or a
        ``datetime.timedelta``, 1 second to 7 days (Signet refuses a link
        signed for longer than its ``max_lifetime``).
    :param folder: sign a folder link, valid for every path under the folder
        with any query.
    :param query: file links only: parameters bound into the link. A str is
        used byte for byte (``"b=2&a=1"``); a mapping or a list of pairs is
        escaped (``{"q": "a b"}`` gives ``q=a%20b``).
    :param param: the signature parameter's name (the handler's
        ``signed_url param``), ``sig`` by default.
    :param api: the handler's ``api`` prefix, for a folder link's path form.
    :param path_form: for a folder link, return the path form
        ``{base}{api}/t/{token}/{folder}/``, under which relative URLs keep
        the token.
    :param now: the issue time (unix seconds or an aware datetime); now by
        default.
    :param url_id: the link's 16-byte id (random by default; for tests).
    :param download_name: serve the file as a download with this name.
    :param inline: ``Content-Disposition: inline`` instead of attachment.
    :param content_type: serve the file with this ``Content-Type``.
    :param max_uses: how many downloads the link allows (1 to 1,000,000).
    :param client_cidr: the client address or network the link works from.
    :raises TypeError, ValueError: for an argument Signet would refuse; the
        message starts with the argument's name.
    """
    return _signer(_check_key(key, secret_only=True)).sign_url(
        base_url, path, expires_in, folder=folder, query=query, param=param, api=api,
        path_form=path_form, now=now, url_id=url_id, download_name=download_name,
        inline=inline, content_type=content_type, max_uses=max_uses, client_cidr=client_cidr,
    )
