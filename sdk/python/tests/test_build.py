"""The in-tree build backend (_build/signet_build.py): its TOML reader reads
pyproject.toml as tomllib does, and the wheel holds the package with a
RECORD that matches."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import sys
import tempfile
import unittest
import zipfile

import _support


def backend():
    path = os.path.join(_support.PACKAGE_ROOT, "_build", "signet_build.py")
    spec = importlib.util.spec_from_file_location("signet_build", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


class TestBackend(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.b = backend()

    def test_reader(self) -> None:
        with open(os.path.join(_support.PACKAGE_ROOT, "pyproject.toml"), encoding="utf-8") as f:
            text = f.read()
        got = self.b.loads(text)
        self.assertEqual(got["project"]["name"], "signet-client")
        self.assertEqual(got["build-system"]["requires"], [])
        if sys.version_info >= (3, 11):
            import tomllib

            self.assertEqual(got, tomllib.loads(text))
        sample = 'a = "x\\"y\\u00e9" # c\n[t.u]\n"k" = [1, true,\n  "s", ]\nz = \'lit\\\'\n'
        self.assertEqual(self.b.loads(sample), {"a": 'x"yé', "t": {"u": {"k": [1, True, "s"], "z": "lit\\"}}})
        for bad in ('a = """x"""', "[[a]]", "a = 1\na = 2", "a = ", "a = 1 b"):
            with self.assertRaises(ValueError):
                self.b.loads(bad)

    def test_wheel(self) -> None:
        self.assertEqual(self.b.get_requires_for_build_wheel(), [])
        with tempfile.TemporaryDirectory() as d:
            name = self.b.build_wheel(d)
            self.assertEqual(name, "signet_client-0.1.0-py3-none-any.whl")
            with zipfile.ZipFile(os.path.join(d, name)) as z:
                names = z.namelist()
                for want in ("signet_client/__init__.py", "signet_client/_signing.py", "signet_client/_client.py",
                             "signet_client/errors.py", "signet_client/py.typed",
                             "signet_client-0.1.0.dist-info/METADATA", "signet_client-0.1.0.dist-info/WHEEL",
                             "signet_client-0.1.0.dist-info/RECORD"):
                    self.assertIn(want, names)
                self.assertFalse([n for n in names if "__pycache__" in n or n.endswith(".pyc")])
                meta = z.read("signet_client-0.1.0.dist-info/METADATA").decode()
                self.assertIn("Name: signet-client\nVersion: 0.1.0\n", meta)
                self.assertIn("Requires-Python: >=3.9\n", meta)
                for line in z.read("signet_client-0.1.0.dist-info/RECORD").decode().splitlines():
                    path, digest, size = line.split(",")
                    if path.endswith("RECORD"):
                        continue
                    data = z.read(path)
                    self.assertEqual(size, str(len(data)))
                    want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual(digest, "sha256=" + want)
            sdist = self.b.build_sdist(d)
            self.assertEqual(sdist, "signet_client-0.1.0.tar.gz")
            meta_dir = self.b.prepare_metadata_for_build_wheel(d)
            self.assertTrue(os.path.isfile(os.path.join(d, meta_dir, "METADATA")))


if __name__ == "__main__":
    unittest.main()
