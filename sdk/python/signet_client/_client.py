"""A client for Signet's public API (docs/openapi.yaml), over urllib."""

from __future__ import annotations

import datetime as _dt
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode

from . import _signing
from ._signing import DEFAULT_API, SignedLink, Signer
from .errors import ConnectionFailed, RateLimited, SignetError, error_from_response

__all__ = ["Client", "SignedURL", "VERSION"]

VERSION = "0.1.0"

JSON = Dict[str, Any]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""The default of :meth:`Client.update_key` and :meth:`Client.update_user`
fields: not sent (``None`` for ``expires_at`` removes the expiry)."""


@dataclass(frozen=True)
class SignedURL:
    """The signing endpoint's answer.

    ``url`` is the link (a folder link's URL is the folder's); ``path_url``
    a folder link's path form (None for a file link); ``path`` what it
    grants, decoded; ``id`` the link's id (for the links API and
    revocation); ``expires_at`` when it stops working (UTC). ``raw`` is the
    JSON answer as received."""

    url: str
    path: str
    folder: bool
    expires_at: _dt.datetime
    id: str
    path_url: Optional[str]
    raw: JSON


def parse_time(s: str) -> _dt.datetime:
    """An RFC 3339 time of the API (``2026-11-22T22:43:08Z``, with or
    without fractional seconds) as an aware datetime."""
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    if "." in s:
        # Python 3.9's fromisoformat wants 3 or 6 fractional digits.
        head, _, rest = s.partition(".")
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac = (rest[:i] + "000000")[:6]
        s = head + "." + frac + rest[i:]
    return _dt.datetime.fromisoformat(s)


def _rfc3339(t: Union[str, _dt.datetime], what: str) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
            raise ValueError("%s: a datetime must be timezone-aware" % what)
        return t.astimezone(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError("%s: must be an RFC 3339 str or an aware datetime" % what)


def _seconds(v: Union[int, _dt.timedelta], what: str) -> int:
    if isinstance(v, bool):
        raise TypeError("%s: must be an int (seconds) or a datetime.timedelta" % what)
    if isinstance(v, int):
        return v
    if isinstance(v, _dt.timedelta):
        if v.microseconds:
            raise ValueError("%s: must be a whole number of seconds" % what)
        return v.days * 86400 + v.seconds
    raise TypeError("%s: must be an int (seconds) or a datetime.timedelta" % what)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered as errors: following one would send the API
    key to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class Client:
    """Signet's public API with a secret API key: the signing endpoint, the
    revocation endpoint, the key, user and links APIs.

    >>> c = Client("https://files.example.com", "sk_…")
    >>> c.sign("/reports/q1.pdf", 3600).url

    Each method makes one request (see ``retries``) and returns the JSON
    answer (as documented in docs/openapi.yaml) or raises a
    :class:`~signet_client.errors.SignetError` subclass for its status:
    :class:`BadRequest` (400, with ``field``), :class:`Unauthorized` (401),
    :class:`Forbidden` (403), :class:`NotFound` (404), :class:`Conflict`
    (409), :class:`RateLimited` (429, with ``retry_after``),
    :class:`Unavailable` (503), :class:`APIError` (any other), or
    :class:`ConnectionFailed` when there is no answer.

    :param base_url: ``scheme://host[:port]`` of the site Signet guards.
    :param key: the API key's value (``sk_…``); it is sent only to
        ``base_url``, and redirects are not followed.
    :param api: the handler's ``api`` prefix.
    :param timeout: seconds for each request.
    :param retries: on 429, wait ``Retry-After`` seconds and try again, up
        to this many times (0: raise :class:`RateLimited` at once).
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        api: str = DEFAULT_API,
        timeout: float = 10,
        retries: int = 0,
    ) -> None:
        if not isinstance(base_url, str):
            raise TypeError("base_url: must be a str such as https://files.example.com")
        self._base, _ = _signing._parse_base(base_url)
        self._base_url = base_url
        if not isinstance(key, str) or not key:
            raise TypeError("key: must be a str, the API key's value (sk_…)")
        self._key = key
        self._api = _signing._check_api(api)
        self._timeout = timeout
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError("retries: must be an int >= 0")
        self._retries = retries
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._signer: Optional[Signer] = None
        self._sleep = time.sleep

    def __repr__(self) -> str:
        return "Client(%r, key=%r)" % (self._base, self._key[:3] + "…" + self._key[-4:])

    # ------------------------------------------------------------------
    # The transport.

    def _request(
        self,
        method: str,
        route: str,
        body: Optional[Mapping[str, Any]] = None,
        query: Optional[List[Tuple[str, str]]] = None,
    ) -> Any:
        url = self._base + self._api + route
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {
            "Authorization": "Bearer " + self._key,
            "Accept": "application/json",
            "User-Agent": "signet-client-python/" + VERSION,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with self._opener.open(req, timeout=self._timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as e:
                try:
                    raw = e.read()
                finally:
                    e.close()
                err = error_from_response(e.code, dict(e.headers.items()), raw)
                if isinstance(err, RateLimited) and attempt < self._retries:
                    attempt += 1
                    self._sleep(err.retry_after if err.retry_after is not None else 1)
                    continue
                raise err from None
            except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError) as e:
                reason = getattr(e, "reason", e)
                raise ConnectionFailed(0, "", "cannot reach %s: %s" % (self._base, reason)) from e
            break
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise SignetError(200, "", "the answer is not JSON: %r" % raw[:100]) from e

    # ------------------------------------------------------------------
    # Signing.

    def sign(
        self,
        path: str,
        expires_in: Union[int, _dt.timedelta],
        *,
        folder: bool = False,
        check: Optional[str] = None,
        download_name: Optional[str] = None,
        inline: Optional[bool] = None,
        content_type: Optional[str] = None,
        max_uses: Optional[int] = None,
        client_cidr: Optional[str] = None,
    ) -> SignedURL:
        """Asks the signing endpoint (``POST {api}/files/{path}/signed-url``)
        for a link. The server checks the key, the path, the policies and
        that the origin has the file, and records the link in its ledger.

        :param path: the decoded path (``/reports/q1.pdf``), or for a folder
            link the folder (``/movie`` or ``/movie/``).
        :param expires_in: the lifetime in seconds (or a timedelta).
        :param folder: a folder link.
        :param check: folder links: a file in the folder the origin must have.
        :param download_name, inline, content_type, max_uses, client_cidr:
            the link's policies (see docs/reference.md, "Link policies").
        """
        if not isinstance(path, str):
            raise TypeError("path: must be a str, the decoded path such as /reports/q1.pdf")
        route_path = path[:-1] if folder and path.endswith("/") else path
        if not route_path.startswith("/") or route_path == "/":
            raise ValueError("path: must be an absolute path other than /, such as /reports/q1.pdf")
        body: JSON = {"expires_in": _seconds(expires_in, "expires_in")}
        if folder:
            body["folder"] = True
        for name, value in (
            ("check", check),
            ("download_name", download_name),
            ("inline", inline),
            ("content_type", content_type),
            ("max_uses", max_uses),
            ("client_cidr", client_cidr),
        ):
            if value is not None:
                body[name] = value
        doc = self._request("POST", "/files" + quote(route_path, safe="/") + "/signed-url", body)
        return SignedURL(
            url=doc["url"],
            path=doc["path"],
            folder=bool(doc.get("folder", False)),
            expires_at=parse_time(doc["expires_at"]),
            id=doc["id"],
            path_url=doc.get("path_url"),
            raw=doc,
        )

    @property
    def signer(self) -> Signer:
        """A :class:`Signer` for this client's key (offline signing)."""
        if self._signer is None:
            self._signer = Signer(self._key)
        return self._signer

    def sign_url(self, path: str, expires_in: Union[int, _dt.timedelta], **kwargs: Any) -> str:
        """Signs a link **offline** with this client's key and base URL (no
        request; the key needs offline signing). Takes the keyword
        arguments of :func:`signet_client.sign_url`."""
        kwargs.setdefault("api", self._api)
        return self.signer.sign_url(self._base_url, path, expires_in, **kwargs)

    def sign_link(self, path: str, expires_in: Union[int, _dt.timedelta], **kwargs: Any) -> SignedLink:
        """:meth:`sign_url`, returning the whole :class:`SignedLink`."""
        kwargs.setdefault("api", self._api)
        return self.signer.sign_link(self._base_url, path, expires_in, **kwargs)

    # ------------------------------------------------------------------
    # Revocations.

    def revoke(
        self,
        *,
        url: Optional[str] = None,
        id: Optional[str] = None,  # noqa: A002 - the API's name
        key_id: Optional[str] = None,
        prefix: Optional[str] = None,
    ) -> JSON:
        """Ends signed URLs before their expiry (``POST {api}/revocations``):
        one link by its whole ``url`` (or ``path_url``) or its ``id``, every
        link a key issued until now (``key_id``), or every link for a path
        under ``prefix`` issued until now. Give exactly one. Returns
        ``{"revocation": {…}}`` or ``{"already_expired": true}``. Links
        signed offline are revoked the same way (their id is the URL id)."""
        given = {k: v for k, v in (("url", url), ("id", id), ("key_id", key_id), ("prefix", prefix)) if v is not None}
        if len(given) != 1:
            raise TypeError("revoke: give exactly one of url, id, key_id, prefix")
        return self._request("POST", "/revocations", given)

    # ------------------------------------------------------------------
    # The key API.

    def list_keys(self) -> List[JSON]:
        """The keys the caller may manage (``GET {api}/keys``); never values."""
        return self._request("GET", "/keys")["keys"]

    def get_key(self, key_id: str) -> JSON:
        """One key (``GET {api}/keys/{id}``)."""
        return self._request("GET", "/keys/" + _seg(key_id, "key_id"))

    def create_key(
        self,
        name: str,
        *,
        type: Optional[str] = None,  # noqa: A002 - the API's name
        user: Optional[str] = None,
        scopes: Optional[List[str]] = None,
        permissions: Optional[str] = None,
        expires_at: Union[str, _dt.datetime, None] = None,
        offline_signing: Optional[bool] = None,
    ) -> JSON:
        """Creates a key (``POST {api}/keys``). The answer holds its value in
        ``key``, the only time it is shown. ``offline_signing=True`` lets a
        secret key sign links itself (:class:`Signer`)."""
        body: JSON = {"name": name}
        for field, value in (
            ("type", type),
            ("user", user),
            ("scopes", scopes),
            ("permissions", permissions),
            ("offline_signing", offline_signing),
        ):
            if value is not None:
                body[field] = value
        if expires_at is not None:
            body["expires_at"] = _rfc3339(expires_at, "expires_at")
        return self._request("POST", "/keys", body)

    def update_key(
        self,
        key_id: str,
        *,
        name: Any = UNSET,
        user: Any = UNSET,
        scopes: Any = UNSET,
        permissions: Any = UNSET,
        expires_at: Any = UNSET,
        offline_signing: Any = UNSET,
    ) -> JSON:
        """Changes a key (``PATCH {api}/keys/{id}``): only the fields given
        are sent. ``expires_at=None`` removes the expiry; ``user=""`` makes a
        user key site-wide; ``offline_signing=False`` ends every link the key
        signed offline."""
        body: JSON = {}
        for field, value in (
            ("name", name),
            ("user", user),
            ("scopes", scopes),
            ("permissions", permissions),
            ("offline_signing", offline_signing),
        ):
            if value is not UNSET:
                body[field] = value
        if expires_at is not UNSET:
            body["expires_at"] = None if expires_at is None else _rfc3339(expires_at, "expires_at")
        return self._request("PATCH", "/keys/" + _seg(key_id, "key_id"), body)

    def delete_key(self, key_id: str) -> JSON:
        """Deletes a key, which ends every link it issued
        (``DELETE {api}/keys/{id}``). Returns the deleted key."""
        return self._request("DELETE", "/keys/" + _seg(key_id, "key_id"))["deleted"]

    # ------------------------------------------------------------------
    # The user API (site administrators only).

    def list_users(self) -> List[JSON]:
        """Every user (``GET {api}/users``)."""
        return self._request("GET", "/users")["users"]

    def get_user(self, name: str) -> JSON:
        """One user (``GET {api}/users/{name}``)."""
        return self._request("GET", "/users/" + _seg(name, "name"))

    def create_user(
        self,
        name: str,
        *,
        scopes: Optional[List[str]] = None,
        permissions: Optional[str] = None,
        self_service: Optional[bool] = None,
    ) -> JSON:
        """Creates a user (``POST {api}/users``); :class:`Conflict` if the
        name is taken."""
        body: JSON = {"name": name}
        for field, value in (("scopes", scopes), ("permissions", permissions), ("self_service", self_service)):
            if value is not None:
                body[field] = value
        return self._request("POST", "/users", body)

    def update_user(
        self,
        name: str,
        *,
        scopes: Any = UNSET,
        permissions: Any = UNSET,
        self_service: Any = UNSET,
    ) -> JSON:
        """Changes a user (``PATCH {api}/users/{name}``); only the fields
        given are sent. Its keys, and the links they issued, follow."""
        body = {
            k: v
            for k, v in (("scopes", scopes), ("permissions", permissions), ("self_service", self_service))
            if v is not UNSET
        }
        return self._request("PATCH", "/users/" + _seg(name, "name"), body)

    def delete_user(self, name: str) -> JSON:
        """Deletes a user and its keys (``DELETE {api}/users/{name}``).
        Returns ``{"deleted": user, "deleted_keys": [ids]}``."""
        return self._request("DELETE", "/users/" + _seg(name, "name"))

    # ------------------------------------------------------------------
    # The links API.

    def list_links(
        self,
        *,
        path: Optional[str] = None,
        key_id: Optional[str] = None,
        user: Optional[str] = None,
        active: Optional[bool] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> JSON:
        """One page of the links the caller may see, newest first
        (``GET {api}/links``): ``{"links": […], "next": cursor}``, with
        ``next`` ``""`` on the last page. Links signed offline are not in
        the ledger until their first counted use (``max_uses``), so they are
        not listed. See :meth:`iter_links` for every page."""
        q: List[Tuple[str, str]] = []
        for name, value in (("path", path), ("key_id", key_id), ("user", user), ("cursor", cursor)):
            if value is not None:
                q.append((name, value))
        if active is not None:
            q.append(("active", "true" if active else "false"))
        if limit is not None:
            q.append(("limit", str(limit)))
        return self._request("GET", "/links", query=q)

    def iter_links(
        self,
        *,
        path: Optional[str] = None,
        key_id: Optional[str] = None,
        user: Optional[str] = None,
        active: Optional[bool] = None,
        limit: Optional[int] = None,
    ) -> Iterator[JSON]:
        """Every link the caller may see, following the cursor from page to
        page (``limit`` links per request)."""
        cursor: Optional[str] = None
        while True:
            page = self.list_links(path=path, key_id=key_id, user=user, active=active, limit=limit, cursor=cursor)
            yield from page["links"]
            cursor = page.get("next") or ""
            if not cursor:
                return

    def get_link(self, link_id: str) -> JSON:
        """One link (``GET {api}/links/{id}``)."""
        return self._request("GET", "/links/" + _seg(link_id, "link_id"))

    def extend_link(
        self,
        link_id: str,
        *,
        expires_in: Union[int, _dt.timedelta, None] = None,
        expires_at: Union[str, _dt.datetime, None] = None,
    ) -> JSON:
        """Moves a link's expiry, later or earlier, without changing its URL
        (``PATCH {api}/links/{id}``). Give one of ``expires_in`` (seconds
        from now) and ``expires_at`` (a time in the past ends it now).
        Returns the link as it now is."""
        if (expires_in is None) == (expires_at is None):
            raise TypeError("extend_link: give one of expires_in, expires_at")
        body: JSON
        if expires_in is not None:
            body = {"expires_in": _seconds(expires_in, "expires_in")}
        else:
            body = {"expires_at": _rfc3339(expires_at, "expires_at")}  # type: ignore[arg-type]
        return self._request("PATCH", "/links/" + _seg(link_id, "link_id"), body)

    update_link = extend_link

    def revoke_link(self, link_id: str) -> JSON:
        """Revokes a link by its id (``DELETE {api}/links/{id}``). Returns the
        link, with ``revoked`` true."""
        return self._request("DELETE", "/links/" + _seg(link_id, "link_id"))

    delete_link = revoke_link

    def revoke_links(
        self,
        *,
        path: Optional[str] = None,
        key_id: Optional[str] = None,
        user: Optional[str] = None,
        all: bool = False,  # noqa: A002 - the API's name
    ) -> int:
        """Revokes every link in the ledger that matches the filters (all of
        them combined) and that the caller may see (``POST
        {api}/links/revoke``); ``all=True`` for every link it may see.
        Returns how many it revoked (a link revoked already is not counted
        again)."""
        body: JSON = {k: v for k, v in (("path", path), ("key_id", key_id), ("user", user)) if v is not None}
        if all:
            body["all"] = True
        return int(self._request("POST", "/links/revoke", body)["revoked"])


def _seg(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("%s: must be a non-empty str" % what)
    return quote(value, safe="")

