"""A PEP 517 build backend for signet-client, standard library only.

pip builds a project in an isolated environment into which it first
installs the build requirements from a package index; setuptools would have
to come from there. This backend needs nothing (``requires = []``), so
``pip install ./sdk/python`` works offline. It builds a pure-Python wheel
(``py3-none-any``) holding the packages named in ``[tool.signet-build]``,
an sdist, and an editable wheel (PEP 660, a ``.pth`` file).

The project's metadata comes from ``pyproject.toml``'s ``[project]`` table,
read by a small TOML reader (Python 3.9 and 3.10 have no ``tomllib``) that
takes the subset this file uses: tables, strings, booleans, integers and
arrays of them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip times: the same tree makes the same wheel


# ----------------------------------------------------------------------------
# A reader for the TOML this project's pyproject.toml uses.


class TOMLError(ValueError):
    pass


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


def _skip_ws(s: str, i: int, newlines: bool) -> int:
    while i < len(s):
        c = s[i]
        if c in " \t" or (newlines and c in "\r\n"):
            i += 1
        elif c == "#":
            while i < len(s) and s[i] != "\n":
                i += 1
        else:
            break
    return i


def _string(s: str, i: int) -> Tuple[str, int]:
    q = s[i]
    i += 1
    out = []
    while i < len(s):
        c = s[i]
        if c == q:
            return "".join(out), i + 1
        if c == "\n":
            break
        if c == "\\" and q == '"':
            e = s[i + 1 : i + 2]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            if e in ("u", "U"):
                n = 4 if e == "u" else 8
                out.append(chr(int(s[i + 2 : i + 2 + n], 16)))
                i += 2 + n
                continue
            raise TOMLError("bad escape at %d" % i)
        out.append(c)
        i += 1
    raise TOMLError("unterminated string at %d" % i)


def _value(s: str, i: int) -> Tuple[Any, int]:
    c = s[i : i + 1]
    if c in ('"', "'"):
        if s.startswith(c * 3, i):
            raise TOMLError("multi-line strings are not supported (at %d)" % i)
        return _string(s, i)
    if c == "[":
        i += 1
        items: List[Any] = []
        while True:
            i = _skip_ws(s, i, True)
            if s[i : i + 1] == "]":
                return items, i + 1
            v, i = _value(s, i)
            items.append(v)
            i = _skip_ws(s, i, True)
            if s[i : i + 1] == ",":
                i += 1
            elif s[i : i + 1] != "]":
                raise TOMLError("expected , or ] at %d" % i)
    m = re.compile(r"true|false|[+-]?[0-9]+").match(s, i)
    if not m:
        raise TOMLError("unsupported value at %d" % i)
    t = m.group()
    return (t == "true") if t in ("true", "false") else int(t), m.end()


def _key(s: str, i: int) -> Tuple[List[str], int]:
    parts = []
    while True:
        i = _skip_ws(s, i, False)
        if s[i : i + 1] in ('"', "'"):
            k, i = _string(s, i)
        else:
            m = _BARE_KEY.match(s, i)
            if not m:
                raise TOMLError("expected a key at %d" % i)
            k, i = m.group(), m.end()
        parts.append(k)
        i = _skip_ws(s, i, False)
        if s[i : i + 1] != ".":
            return parts, i
        i += 1


def loads(s: str) -> Dict[str, Any]:
    """The document s (the subset described above) as nested dicts."""
    doc: Dict[str, Any] = {}
    table = doc
    i = 0
    while True:
        i = _skip_ws(s, i, True)
        if i >= len(s):
            return doc
        if s[i] == "[":
            if s.startswith("[[", i):
                raise TOMLError("arrays of tables are not supported (at %d)" % i)
            path, i = _key(s, i + 1)
            if s[i : i + 1] != "]":
                raise TOMLError("expected ] at %d" % i)
            i += 1
            table = doc
            for p in path:
                table = table.setdefault(p, {})
                if not isinstance(table, dict):
                    raise TOMLError("%s is not a table" % ".".join(path))
        else:
            path, i = _key(s, i)
            if s[i : i + 1] != "=":
                raise TOMLError("expected = at %d" % i)
            i = _skip_ws(s, i + 1, False)
            v, i = _value(s, i)
            t = table
            for p in path[:-1]:
                t = t.setdefault(p, {})
            if path[-1] in t:
                raise TOMLError("%s given twice" % ".".join(path))
            t[path[-1]] = v
        i = _skip_ws(s, i, False)
        if i < len(s) and s[i] not in "\r\n":
            raise TOMLError("unexpected text at %d" % i)


def _pyproject() -> Dict[str, Any]:
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        return loads(f.read())


# ----------------------------------------------------------------------------
# Metadata and files.


def _meta() -> Dict[str, Any]:
    doc = _pyproject()
    project = doc["project"]
    if project.get("dependencies"):
        raise ValueError("signet_build: this backend makes wheels without dependencies")
    packages = doc.get("tool", {}).get("signet-build", {}).get("packages", [])
    if not packages:
        raise ValueError("signet_build: [tool.signet-build] packages is empty")
    return {"project": project, "packages": packages}


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata_text(project: Dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + project["name"],
        "Version: " + project["version"],
    ]
    if project.get("description"):
        lines.append("Summary: " + project["description"])
    if project.get("requires-python"):
        lines.append("Requires-Python: " + project["requires-python"])
    if project.get("keywords"):
        lines.append("Keywords: " + ",".join(project["keywords"]))
    for c in project.get("classifiers", []):
        lines.append("Classifier: " + c)
    body = ""
    readme = project.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


_WHEEL_TEXT = "Wheel-Version: 1.0\nGenerator: signet_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _package_files(packages: List[str]) -> List[Tuple[str, str]]:
    """(path in the archive, path on disk) of every file of the packages,
    sorted, without byte code."""
    out = []
    for pkg in packages:
        top = os.path.join(ROOT, *pkg.split("."))
        if not os.path.isfile(os.path.join(top, "__init__.py")):
            raise ValueError("signet_build: %s is not a package directory" % top)
        for d, dirs, files in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                disk = os.path.join(d, name)
                out.append((os.path.relpath(disk, ROOT).replace(os.sep, "/"), disk))
    return out


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _write_wheel(wheel_directory: str, extra: List[Tuple[str, bytes]], with_packages: bool) -> str:
    meta = _meta()
    project = meta["project"]
    dist = _dist_name(project["name"])
    version = project["version"]
    dist_info = "%s-%s.dist-info" % (dist, version)
    filename = "%s-%s-py3-none-any.whl" % (dist, version)
    entries: List[Tuple[str, bytes]] = []
    if with_packages:
        for arcname, disk in _package_files(meta["packages"]):
            with open(disk, "rb") as f:
                entries.append((arcname, f.read()))
    entries.extend(extra)
    entries.append((dist_info + "/METADATA", _metadata_text(project).encode("utf-8")))
    entries.append((dist_info + "/WHEEL", _WHEEL_TEXT.encode("ascii")))
    record = [_record_line(a, d) for a, d in entries] + [dist_info + "/RECORD,,"]
    entries.append((dist_info + "/RECORD", ("\n".join(record) + "\n").encode("utf-8")))
    os.makedirs(wheel_directory, exist_ok=True)
    path = os.path.join(wheel_directory, filename)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, _EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return filename


def _write_metadata(metadata_directory: str) -> str:
    project = _meta()["project"]
    dist_info = "%s-%s.dist-info" % (_dist_name(project["name"]), project["version"])
    d = os.path.join(metadata_directory, dist_info)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata_text(project))
    with open(os.path.join(d, "WHEEL"), "w", encoding="ascii") as f:
        f.write(_WHEEL_TEXT)
    return dist_info


# ----------------------------------------------------------------------------
# The PEP 517 and PEP 660 hooks.


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None
) -> str:
    return _write_metadata(metadata_directory)


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None
) -> str:
    return _write_metadata(metadata_directory)


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    return _write_wheel(wheel_directory, [], with_packages=True)


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    pth = (ROOT + "\n").encode("utf-8")
    return _write_wheel(wheel_directory, [(_dist_name(_meta()["project"]["name"]) + ".pth", pth)], with_packages=False)


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    meta = _meta()
    project = meta["project"]
    base = "%s-%s" % (_dist_name(project["name"]), project["version"])
    names = ["pyproject.toml", "_build/signet_build.py"]
    if project.get("readme"):
        names.append(project["readme"])
    names += [a for a, _ in _package_files(meta["packages"])]
    for extra in ("bench.py",):
        if os.path.isfile(os.path.join(ROOT, extra)):
            names.append(extra)
    tests = os.path.join(ROOT, "tests")
    if os.path.isdir(tests):
        for name in sorted(os.listdir(tests)):
            if name.endswith(".py"):
                names.append("tests/" + name)
    os.makedirs(sdist_directory, exist_ok=True)
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:

        def add(arcname: str, data: bytes) -> None:
            info = tarfile.TarInfo(base + "/" + arcname)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 315532800  # 1980-01-01
            tar.addfile(info, io.BytesIO(data))

        for name in names:
            with open(os.path.join(ROOT, name), "rb") as f:
                add(name, f.read())
        add("PKG-INFO", _metadata_text(project).encode("utf-8"))
    return filename
