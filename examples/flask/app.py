# examples/flask/app.py
"""An image preview page: it lists the images of a folder and shows each one
through a 5-minute link signed offline, so a page of 200 thumbnails costs no
call to Signet at all.

    SIGNET_URL=https://files.example.com SIGNET_KEY=sk_... \
    IMAGES_DIR=/srv/files/images python3 examples/flask/app.py

SIGNET_URL   the site Signet guards, as browsers reach it
SIGNET_KEY   a secret key created with offline signing that may sign IMAGES_PATH
IMAGES_DIR   the folder of images on this machine (the one Caddy serves)
IMAGES_PATH  where the site serves that folder (default /images/)
PORT         this app's port (default 5000)
"""

import os
from pathlib import Path

from flask import Flask, render_template_string

from signet_client import Signer

SIGNET_URL = os.environ["SIGNET_URL"]
SIGNER = Signer(os.environ["SIGNET_KEY"])  # derives the key id and secret once
IMAGES_DIR = Path(os.environ["IMAGES_DIR"])
IMAGES_PATH = os.environ.get("IMAGES_PATH", "/images/").rstrip("/") + "/"
LIFETIME = 300  # seconds: every page view hands out fresh 5-minute links
IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Images</title>
<style>
  body { font-family: sans-serif; }
  figure { display: inline-block; margin: 8px; text-align: center; }
  img { width: 200px; height: 150px; object-fit: cover; image-rendering: pixelated; }
</style>
</head>
<body>
<h1>Images</h1>
{% for image in images %}
<figure>
  <img src="{{ image.preview }}" alt="{{ image.name }}">
  <figcaption>{{ image.name }} · <a href="{{ image.download }}" download>download</a></figcaption>
</figure>
{% else %}
<p>No images yet.</p>
{% endfor %}
</body>
</html>
"""

app = Flask(__name__)


@app.get("/")
def index() -> str:
    images = []
    for f in sorted(IMAGES_DIR.iterdir()):
        if not f.is_file() or f.suffix.lower() not in IMAGE_TYPES:
            continue
        path = IMAGES_PATH + f.name  # the decoded path: sign_url escapes it
        images.append({
            "name": f.name,
            "preview": SIGNER.sign_url(SIGNET_URL, path, LIFETIME),
            "download": SIGNER.sign_url(SIGNET_URL, path, LIFETIME, download_name=f.name),
        })
    return render_template_string(PAGE, images=images)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
