"""Offline signing throughput of signet_client, on the current core(s).

    taskset -c 0 python3 sdk/python/bench.py [seconds]

Signs file links (a path per link, as a gallery does), file links with a
query, links with policies and folder links with one Signer, for about
`seconds` each (default 2), and prints links per second. The package of
this tree is used.
"""

import base64
import os
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signet_client import Signer, sign_url  # noqa: E402


def key() -> str:
    raw = os.urandom(32)
    return "sk_" + base64.urlsafe_b64encode(raw + struct.pack(">I", zlib.crc32(b"sk_" + raw))).decode()


def rate(fn, seconds: float) -> float:
    n, batch = 0, 1000
    start = time.perf_counter()
    while True:
        for i in range(batch):
            fn(n + i)
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    k = key()
    s = Signer(k)
    base = "https://files.example.com"
    cases = [
        ("file link, Signer.sign_url", lambda i: s.sign_url(base, "/photos/2026/img-%d.jpg" % i, 300)),
        ("file link, sign_url(key)", lambda i: sign_url(base, "/photos/2026/img-%d.jpg" % i, k, 300)),
        ("file link with a query", lambda i: s.sign_url(base, "/photos/img.jpg", 300, query={"w": "200", "n": str(i)})),
        ("file link with policies", lambda i: s.sign_url(base, "/photos/img-%d.jpg" % i, 300,
                                                         download_name="img.jpg", content_type="image/jpeg")),
        ("folder link", lambda i: s.sign_url(base, "/movie/", 300, folder=True)),
    ]
    print("python %s, %s" % (sys.version.split()[0], sys.platform))
    for name, fn in cases:
        print("%-28s %10.0f links/s" % (name, rate(fn, seconds)))


if __name__ == "__main__":
    main()
