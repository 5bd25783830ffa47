"""signet_client: sign Signet links offline, and use Signet's API.

Offline signing (no network call) with a secret API key created with
offline signing::

    from signet_client import sign_url
    url = sign_url("https://files.example.com", "/photos/cat.jpg", key, 300)

The API client::

    from signet_client import Client
    c = Client("https://files.example.com", key)
    link = c.sign("/reports/q1.pdf", 3600, download_name="Q1.pdf")

See docs/client-python.md in the Signet repository.
"""

from ._client import UNSET, VERSION, Client, SignedURL, parse_time
from ._signing import (
    DEFAULT_API,
    DEFAULT_PARAM,
    MAX_LIFETIME,
    MAX_MAX_USES,
    SignedLink,
    Signer,
    canonical_query,
    check_content_type,
    check_download_name,
    check_path,
    derive_key_id,
    derive_offline_secret,
    parse_client_cidr,
    sign_token,
    sign_url,
)
from .errors import (
    APIError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RateLimited,
    SignetError,
    Unauthorized,
    Unavailable,
)

__version__ = VERSION

__all__ = [
    "APIError",
    "BadRequest",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "DEFAULT_API",
    "DEFAULT_PARAM",
    "Forbidden",
    "MAX_LIFETIME",
    "MAX_MAX_USES",
    "NotFound",
    "RateLimited",
    "SignedLink",
    "SignedURL",
    "Signer",
    "SignetError",
    "UNSET",
    "Unauthorized",
    "Unavailable",
    "canonical_query",
    "check_content_type",
    "check_download_name",
    "check_path",
    "derive_key_id",
    "derive_offline_secret",
    "parse_client_cidr",
    "parse_time",
    "sign_token",
    "sign_url",
]
