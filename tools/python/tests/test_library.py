# SPDX-License-Identifier: MIT
"""Which libdmxp the package loads, and the wheels and sdist of the
in-tree build backend (backend/dmxp_build.py) that carry it."""
import base64
import contextlib
import ctypes.util
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile

import support

import dmxp

sys.path.insert(0, os.path.join(support.PKG_ROOT, "backend"))
import dmxp_build  # noqa: E402

SONAME = "libdmxp.so.1"
PKG = os.path.join(support.PKG_ROOT, "dmxp")


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DMXP_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


def import_from(where, **env):
    """Import dmxp from directory ``where`` in a new interpreter: its
    library_path(), or the last line of the error."""
    r = subprocess.run([sys.executable, "-c", "import dmxp; print(dmxp.library_path())"],
                       cwd=where, env=_clean_env(**env), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode == 0:
        return r.stdout.strip()
    return r.stderr.strip().splitlines()[-1]


def copy_package(dst):
    """The package's source files under dst/dmxp."""
    os.makedirs(os.path.join(dst, "dmxp"))
    for name in os.listdir(PKG):
        if name.endswith(".py"):
            shutil.copy(os.path.join(PKG, name), os.path.join(dst, "dmxp", name))
    return os.path.join(dst, "dmxp")


def system_has_library():
    return bool(ctypes.util.find_library("dmxp") or
                os.path.exists(os.path.join(sys.prefix, "lib", SONAME)) or
                os.path.exists(os.path.join("/usr/local/lib", SONAME)))


class TestLibraryOrder(unittest.TestCase):
    """$DMXP_LIBRARY, bundled, build tree, install prefix, loader."""

    def setUp(self):
        self.tmp = support.temp_dir(self)
        self.lib = dmxp.library_path()      # a loadable libdmxp.so.1

    def put_lib(self, directory):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, SONAME)
        shutil.copy(self.lib, path)
        return path

    def fake_tree(self):
        """A source tree layout: tools/python/dmxp, lib/, include/dmxp.h."""
        top = os.path.join(self.tmp, "tree")
        pkg = copy_package(os.path.join(top, "tools", "python"))
        os.makedirs(os.path.join(top, "include"))
        open(os.path.join(top, "include", "dmxp.h"), "w").close()
        return top, pkg, self.put_lib(os.path.join(top, "lib"))

    def test_dmxp_library_wins_over_a_bundled_copy(self):
        site = os.path.join(self.tmp, "site")
        self.put_lib(copy_package(site))
        self.assertEqual(import_from(site, DMXP_LIBRARY=self.lib), self.lib)

    def test_a_bad_dmxp_library_is_an_error_not_a_fallback(self):
        site = os.path.join(self.tmp, "site")
        self.put_lib(copy_package(site))
        err = import_from(site, DMXP_LIBRARY="/nonexistent/" + SONAME)
        self.assertTrue(err.startswith("ImportError: dmxp: cannot load libdmxp.so.1; tried "
                                       "$DMXP_LIBRARY=/nonexistent/libdmxp.so.1"), err)

    def test_the_bundled_copy_without_a_build_tree(self):
        site = os.path.join(self.tmp, "site")
        bundled = self.put_lib(copy_package(site))
        self.assertEqual(import_from(site), bundled)

    def test_the_bundled_copy_before_the_build_tree(self):
        top, pkg, _ = self.fake_tree()
        bundled = self.put_lib(pkg)
        self.assertEqual(import_from(os.path.dirname(pkg)), bundled)

    def test_the_build_tree(self):
        top, pkg, tree_lib = self.fake_tree()
        self.assertEqual(import_from(os.path.dirname(pkg)), tree_lib)
        self.assertEqual(dmxp.library_path(), os.environ.get("DMXP_LIBRARY") or
                         os.path.join(support.TREE, "lib", SONAME))

    def test_the_build_tree_before_the_install_prefix(self):
        top, pkg, tree_lib = self.fake_tree()
        libdir = os.path.dirname(self.put_lib(os.path.join(self.tmp, "prefix", "lib")))
        with open(os.path.join(pkg, "_installed.py"), "w") as f:
            f.write("LIBDIR = %r\n" % libdir)
        self.assertEqual(import_from(os.path.dirname(pkg)), tree_lib)

    def test_the_prefix_make_install_recorded(self):
        site = os.path.join(self.tmp, "site")
        pkg = copy_package(site)
        libdir = os.path.join(self.tmp, "prefix", "lib")
        installed = self.put_lib(libdir)
        with open(os.path.join(pkg, "_installed.py"), "w") as f:
            f.write("LIBDIR = %r\n" % libdir)
        self.assertEqual(import_from(site), installed)

    def test_nothing_found_is_one_clear_error(self):
        if system_has_library():
            self.skipTest("libdmxp.so.1 is installed on this system")
        site = os.path.join(self.tmp, "site")
        pkg = copy_package(site)
        err = import_from(site)
        self.assertTrue(err.startswith("ImportError: dmxp: cannot load libdmxp.so.1; tried "), err)
        for part in (os.path.join(pkg, SONAME) + " (no such file)",
                     os.path.join(sys.prefix, "lib", SONAME), "/usr/local/lib/" + SONAME,
                     "build it with `make` in the dmxp tree", "set $DMXP_LIBRARY"):
            self.assertIn(part, err)

    def test_an_unbuilt_tree_is_named_in_the_error(self):
        if system_has_library():
            self.skipTest("libdmxp.so.1 is installed on this system")
        top, pkg, tree_lib = self.fake_tree()
        os.unlink(tree_lib)
        err = import_from(os.path.dirname(pkg))
        self.assertIn(tree_lib + " (no such file)", err)
        self.assertIn("build it with `make` in the dmxp tree", err)


def record_ok(whl):
    """Every file of a wheel is in its RECORD with the right hash and size."""
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        record = [n for n in names if n.endswith(".dist-info/RECORD")]
        if len(record) != 1:
            return False
        rows = [line.split(",") for line in z.read(record[0]).decode().splitlines()]
        seen = set()
        for name, digest, size in rows:
            seen.add(name)
            if name == record[0]:
                continue
            data = z.read(name)
            want = "sha256=" + base64.urlsafe_b64encode(
                hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if digest != want or int(size) != len(data):
                return False
        return seen == names


class TestBackend(unittest.TestCase):
    """The wheels and sdist of backend/dmxp_build.py."""

    def setUp(self):
        self.tmp = support.temp_dir(self)
        self.tree_lib = os.path.join(support.TREE, "lib", SONAME)

    def wheel(self, **settings):
        name = dmxp_build.build_wheel(self.tmp, settings or None)
        return name, zipfile.ZipFile(os.path.join(self.tmp, name))

    def test_a_wheel_bundles_the_build_trees_library(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        name, z = self.wheel()
        self.assertEqual(name, "dmxp-%s-py3-none-%s.whl" % (dmxp.VERSION, dmxp_build.platform_tag()))
        self.assertEqual(z.read("dmxp/" + SONAME), open(self.tree_lib, "rb").read())
        info = "dmxp-%s.dist-info/" % dmxp.VERSION
        self.assertIn("Root-Is-Purelib: false", z.read(info + "WHEEL").decode())
        self.assertIn("Version: %s\n" % dmxp.VERSION, z.read(info + "METADATA").decode())
        self.assertTrue(record_ok(os.path.join(self.tmp, name)))
        self.assertFalse([n for n in z.namelist() if "__pycache__" in n or n.endswith(".pyc")])

    def test_bundle_no_builds_a_pure_wheel(self):
        name, z = self.wheel(bundle="no")
        self.assertEqual(name, "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)
        self.assertNotIn("dmxp/" + SONAME, z.namelist())
        self.assertIn("dmxp/__init__.py", z.namelist())
        self.assertIn("Root-Is-Purelib: true",
                      z.read("dmxp-%s.dist-info/WHEEL" % dmxp.VERSION).decode())
        self.assertTrue(record_ok(os.path.join(self.tmp, name)))

    def test_an_unpacked_wheel_loads_its_bundled_copy(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        name, z = self.wheel()
        site = os.path.join(self.tmp, "site")
        z.extractall(site)
        os.chmod(os.path.join(site, "dmxp", SONAME), 0o755)
        self.assertEqual(import_from(site), os.path.join(site, "dmxp", SONAME))

    def test_an_editable_wheel_points_at_the_source_tree(self):
        name = dmxp_build.build_editable(self.tmp)
        with zipfile.ZipFile(os.path.join(self.tmp, name)) as z:
            self.assertEqual(z.read("__editable__.dmxp.pth").decode(), support.PKG_ROOT + "\n")
            self.assertNotIn("dmxp/__init__.py", z.namelist())
        self.assertTrue(name.endswith("-py3-none-any.whl"), name)

    def test_the_sdist_builds_a_pure_wheel(self):
        name = dmxp_build.build_sdist(self.tmp)
        self.assertEqual(name, "dmxp-%s.tar.gz" % dmxp.VERSION)
        with tarfile.open(os.path.join(self.tmp, name)) as t:
            names = t.getnames()
            t.extractall(self.tmp)
        base = "dmxp-%s/" % dmxp.VERSION
        for f in ("pyproject.toml", "PKG-INFO", "README.md", "dmxp/__init__.py",
                  "backend/dmxp_build.py"):
            self.assertIn(base + f, names)
        self.assertFalse([n for n in names if n.endswith(".so.1")])
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        code = "import sys; sys.path.insert(0, 'backend'); import dmxp_build; print(dmxp_build.build_wheel(%r))" % out
        r = subprocess.run([sys.executable, "-c", code], cwd=os.path.join(self.tmp, base),
                           stdout=subprocess.PIPE, universal_newlines=True, env=_clean_env())
        self.assertEqual(r.stdout.strip(), "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)

    def test_the_metadata_is_pyproject_tomls(self):
        project, _ = dmxp_build._project()
        meta = dmxp_build._metadata(project, dmxp.VERSION).decode()
        self.assertTrue(meta.startswith("Metadata-Version: 2.1\nName: dmxp\nVersion: %s\n"
                                        % dmxp.VERSION), meta[:200])
        self.assertIn("Requires-Python: >=3.9\n", meta)
        self.assertIn("Classifier: Operating System :: POSIX :: Linux\n", meta)

    def test_the_toml_reader_agrees_with_tomllib(self):
        try:
            import tomllib
        except ImportError:
            self.skipTest("no tomllib (Python < 3.11)")
        with open(os.path.join(support.PKG_ROOT, "pyproject.toml"), encoding="utf-8") as f:
            text = f.read()
        with contextlib.ExitStack() as stack:
            stack.callback(sys.modules.__setitem__, "tomllib", tomllib)
            sys.modules["tomllib"] = None       # the fallback reader
            subset = dmxp_build.parse_toml(text)
        self.assertEqual(subset, tomllib.loads(text))


if __name__ == "__main__":
    unittest.main()
