# SPDX-License-Identifier: MIT
"""Which libdmxp the package loads, and the wheels and sdist of the
in-tree build backend (backend/dmxp_build.py) that carry it."""
import base64
import contextlib
import ctypes.util
import re
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


def old_library(directory, name=SONAME):
    """A libdmxp.so.1 with dmxp_region_open only (a library older than
    the binding) at directory/name, or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    os.makedirs(directory, exist_ok=True)
    src = os.path.join(directory, "old.c")
    with open(src, "w") as f:
        f.write("int dmxp_region_open(void) { return 0; }\n")
    out = os.path.join(directory, name)
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname," + SONAME, "-o", out, src], check=True)
    os.unlink(src)
    return out


def run_python(code, cwd, **env):
    """stdout, or the last line of stderr, of ``code`` in a new interpreter."""
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=_clean_env(**env),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode == 0:
        return r.stdout.strip()
    return r.stderr.strip().splitlines()[-1]


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


    def need_old_library(self, directory, name=SONAME):
        path = old_library(directory, name)
        if path is None:
            self.skipTest("no C compiler to build an old libdmxp.so.1")
        return path

    def test_a_too_old_bundled_copy_is_passed_over(self):
        site = os.path.join(self.tmp, "site")
        pkg = copy_package(site)
        self.need_old_library(pkg)
        libdir = os.path.dirname(self.put_lib(os.path.join(self.tmp, "prefix", "lib")))
        with open(os.path.join(pkg, "_installed.py"), "w") as f:
            f.write("LIBDIR = %r\n" % libdir)
        self.assertEqual(import_from(site), os.path.join(libdir, SONAME))

    def test_a_too_old_library_is_named_in_the_error(self):
        site = os.path.join(self.tmp, "site")
        old = self.need_old_library(copy_package(site))
        err = import_from(site, DMXP_LIBRARY=old)
        self.assertEqual(err, "ImportError: dmxp: cannot load libdmxp.so.1; tried "
                         "$DMXP_LIBRARY=%s (too old: no dmxp_region_close): build it with "
                         "`make` in the dmxp tree (and pip install ./tools/python again into "
                         "a venv), or set $DMXP_LIBRARY to its path" % old)

    def test_the_loader_before_sys_prefix_and_usr_local(self):
        where = [w for w, _ in dmxp._lib.candidates()]
        if "env" in where:
            self.skipTest("$DMXP_LIBRARY is set")
        paths = [p for _, p in dmxp._lib.candidates()]
        loader = where.index("loader")
        self.assertLess(loader, paths.index(os.path.join(sys.prefix, "lib", SONAME)))
        self.assertLess(loader, paths.index("/usr/local/lib/" + SONAME))

    def test_ld_library_path_through_the_loader_itself(self):
        # ctypes.util.find_library runs ldconfig -p and takes the first
        # libdmxp.* it lists (libdmxp.so.2, the dev link): not used.
        site = os.path.join(self.tmp, "site")
        copy_package(site)
        libdir = os.path.dirname(self.put_lib(os.path.join(self.tmp, "ld")))
        code = ("import ctypes.util\n"
                "def no(name): raise AssertionError('find_library(%r)' % name)\n"
                "ctypes.util.find_library = no\n"
                "import dmxp; print(dmxp.library_path())")
        self.assertEqual(run_python(code, site, LD_LIBRARY_PATH=libdir),
                         os.path.join(libdir, SONAME))

    def old_bundled_site(self):
        """A package whose bundled libdmxp.so.1 is too old (it stays loaded)."""
        site = os.path.join(self.tmp, "site")
        self.need_old_library(copy_package(site))
        return site

    def test_ld_library_path_after_a_too_old_copy(self):
        site = self.old_bundled_site()
        libdir = os.path.dirname(self.put_lib(os.path.join(self.tmp, "ld")))
        self.assertEqual(import_from(site, LD_LIBRARY_PATH=libdir), os.path.join(libdir, SONAME))

    def test_ld_library_path_splits_on_colon_and_semicolon(self):
        site = self.old_bundled_site()
        libdir = os.path.dirname(self.put_lib(os.path.join(self.tmp, "ld")))
        search = "::%s;;%s:" % (os.path.join(self.tmp, "none"), libdir)
        self.assertEqual(import_from(site, LD_LIBRARY_PATH=search), os.path.join(libdir, SONAME))

    def ldconfig_says(self, site, *paths):
        """import dmxp with ldconfig -p listing paths for libdmxp.so.1."""
        lines = "".join("\t%s (libc6,x86-64) => %s\n" % (SONAME, p) for p in paths)
        code = ("import subprocess\n"
                "run = subprocess.run\n"
                "def fake(args, *a, **kw):\n"
                "    if 'ldconfig' not in args[0]: return run(args, *a, **kw)\n"
                "    return subprocess.CompletedProcess(args, 0, %r, '')\n"
                "subprocess.run = fake\n"
                "import dmxp; print(dmxp.library_path())" % ("%d libs found\n%s" % (len(paths), lines)))
        return run_python(code, site)

    def test_the_ld_so_cache_after_a_too_old_copy(self):
        site = self.old_bundled_site()
        cached = self.put_lib(os.path.join(self.tmp, "cache"))
        self.assertEqual(self.ldconfig_says(site, cached), cached)

    def test_a_cache_entry_of_another_machine_is_passed_over_silently(self):
        if system_has_library():
            self.skipTest("libdmxp.so.1 is installed on this system")
        site = self.old_bundled_site()
        other = self.put_lib(os.path.join(self.tmp, "other"))
        with open(other, "r+b") as f:
            f.seek(18)
            machine = f.read(2)
            f.seek(18)
            f.write(bytes([machine[0] ^ 0xff, machine[1]]))
        err = self.ldconfig_says(site, other)
        self.assertTrue(err.startswith("ImportError: dmxp: cannot load"), err)
        self.assertNotIn(other, err)

    def test_the_soname_bound_to_a_too_old_copy_says_so(self):
        if system_has_library():
            self.skipTest("libdmxp.so.1 is installed on this system")
        site = self.old_bundled_site()
        err = import_from(site)
        self.assertIn(", %s (shadowed by the too-old copy already loaded), " % SONAME, err)

    def test_a_library_already_loaded_is_reused(self):
        site = os.path.join(self.tmp, "site")
        self.put_lib(copy_package(site))
        first = self.put_lib(os.path.join(self.tmp, "first"))
        code = ("import ctypes, sys\n"
                "ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)\n"
                "import dmxp\n"
                "maps = {l.split()[-1] for l in open('/proc/self/maps') if 'libdmxp' in l}\n"
                "print(dmxp.library_path(), sorted(maps))")
        r = subprocess.run([sys.executable, "-c", code, first], cwd=site, env=_clean_env(),
                           stdout=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.stdout.strip(), "%s ['%s']" % (first, first))

    def test_dmxp_library_wins_over_a_library_already_loaded(self):
        site = os.path.join(self.tmp, "site")
        copy_package(site)
        first = self.put_lib(os.path.join(self.tmp, "first"))
        code = ("import ctypes, sys\n"
                "ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)\n"
                "import dmxp; print(dmxp.library_path())")
        r = subprocess.run([sys.executable, "-c", code, first], cwd=site,
                           env=_clean_env(DMXP_LIBRARY=self.lib),
                           stdout=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.stdout.strip(), self.lib)


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

    @staticmethod
    def tag():
        """The platform tag the wheel spec gives this machine."""
        return "linux_" + re.sub(r"[-.]", "_", os.uname().machine)

    def wheel(self, **settings):
        name = dmxp_build.build_wheel(self.tmp, settings or None)
        return name, zipfile.ZipFile(os.path.join(self.tmp, name))

    def test_a_wheel_bundles_the_build_trees_library(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        name, z = self.wheel()
        self.assertEqual(name, "dmxp-%s-py3-none-%s.whl" % (dmxp.VERSION, self.tag()))
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

    def test_an_editable_wheel_imports_the_package_from_the_source_tree(self):
        name = dmxp_build.build_editable(self.tmp)
        self.assertTrue(name.endswith("-py3-none-any.whl"), name)
        site = os.path.join(self.tmp, "site")
        with zipfile.ZipFile(os.path.join(self.tmp, name)) as z:
            self.assertNotIn("dmxp/__init__.py", z.namelist())
            z.extractall(site)
        # Only the package: not tools/python's tests, backend or scripts.
        code = ("import site, sys; site.addsitedir(sys.argv[1]); import dmxp\n"
                "try:\n    import bench_recv\nexcept ImportError:\n    bench_recv = None\n"
                "print(dmxp.__file__, bench_recv, dmxp.library_path())")
        r = subprocess.run([sys.executable, "-c", code, site], cwd=self.tmp, env=_clean_env(),
                           stdout=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.stdout.split()[:2], [os.path.join(PKG, "__init__.py"), "None"])
        if os.path.exists(self.tree_lib):
            self.assertEqual(r.stdout.split()[2], self.tree_lib)

    def fake_tree(self, lib_name=None):
        """tools/python copied into a dmxp tree layout; lib/libdmxp.so.1
        -> lib_name, a copy of the tree's library (None: no lib/)."""
        top = os.path.join(self.tmp, "tree")
        root = os.path.join(top, "tools", "python")
        for d in ("backend", "dmxp"):
            shutil.copytree(os.path.join(support.PKG_ROOT, d), os.path.join(root, d),
                            ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
        for f in ("pyproject.toml", "README.md"):
            shutil.copy(os.path.join(support.PKG_ROOT, f), root)
        os.makedirs(os.path.join(top, "include"))
        open(os.path.join(top, "include", "dmxp.h"), "w").close()
        with open(os.path.join(top, "VERSION"), "w") as f:
            f.write(dmxp.VERSION + "\n")
        if lib_name:
            os.makedirs(os.path.join(top, "lib"))
            shutil.copy(self.tree_lib, os.path.join(top, "lib", lib_name))
            os.symlink(lib_name, os.path.join(top, "lib", SONAME))
        return root

    def build_in(self, root, bundle=None):
        """(wheel name, stderr) of build_wheel run in directory root."""
        out = os.path.join(self.tmp, "out")
        os.makedirs(out, exist_ok=True)
        settings = {"bundle": bundle} if bundle else None
        code = ("import sys; sys.path.insert(0, 'backend'); import dmxp_build; "
                "print(dmxp_build.build_wheel(%r, %r))" % (out, settings))
        r = subprocess.run([sys.executable, "-c", code], cwd=root, env=_clean_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        return r.stdout.strip(), r.stderr.strip()

    def test_a_stray_library_in_the_package_is_not_copied(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        root = self.fake_tree("libdmxp.so." + dmxp.VERSION)
        shutil.copy(self.tree_lib, os.path.join(root, "dmxp", SONAME))
        name, err = self.build_in(root)
        with zipfile.ZipFile(os.path.join(self.tmp, "out", name)) as z:
            self.assertEqual(z.namelist().count("dmxp/" + SONAME), 1)
        self.assertTrue(record_ok(os.path.join(self.tmp, "out", name)))
        name, err = self.build_in(root, "no")
        with zipfile.ZipFile(os.path.join(self.tmp, "out", name)) as z:
            self.assertNotIn("dmxp/" + SONAME, z.namelist())

    def test_a_tree_bundles_its_libdmxp_so_version(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        name, err = self.build_in(self.fake_tree("libdmxp.so." + dmxp.VERSION))
        self.assertEqual((name, err), ("dmxp-%s-py3-none-%s.whl" % (dmxp.VERSION, self.tag()), ""))

    def test_a_library_of_another_version_is_not_bundled(self):
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        root = self.fake_tree("libdmxp.so.1.0.0")
        name, err = self.build_in(root)
        self.assertEqual(name, "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)
        lib = os.path.realpath(os.path.join(root, "..", "..", "lib", "libdmxp.so.1.0.0"))
        self.assertEqual(err, "dmxp_build: %s is not libdmxp.so.%s of this package: "
                         "a pure wheel, without libdmxp" % (lib, dmxp.VERSION))

    def test_a_too_old_library_is_not_bundled(self):
        root = self.fake_tree()
        lib = old_library(os.path.join(root, "..", "..", "lib"), "libdmxp.so." + dmxp.VERSION)
        if lib is None:
            self.skipTest("no C compiler to build an old libdmxp.so.1")
        os.symlink("libdmxp.so." + dmxp.VERSION, os.path.join(os.path.dirname(lib), SONAME))
        name, err = self.build_in(root)
        self.assertEqual(name, "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)
        self.assertEqual(err, "dmxp_build: %s is too old (no dmxp_region_close): "
                         "a pure wheel, without libdmxp" % os.path.realpath(lib))

    def test_an_unbuilt_tree_builds_a_pure_wheel(self):
        name, err = self.build_in(self.fake_tree())
        self.assertEqual(name, "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)
        self.assertTrue(err.startswith("dmxp_build: ") and err.endswith(
            " is not built: a pure wheel, without libdmxp"), err)

    def test_outside_a_tree_nothing_is_bundled(self):
        # A copy of tools/python elsewhere (pip < 21.3 builds in one):
        # ../../lib/libdmxp.so.1 is not the package's.
        if not os.path.exists(self.tree_lib):
            self.skipTest("lib/libdmxp.so.1 is not built")
        root = self.fake_tree("libdmxp.so." + dmxp.VERSION)
        os.unlink(os.path.join(root, "..", "..", "include", "dmxp.h"))
        name, err = self.build_in(root)
        self.assertEqual(name, "dmxp-%s-py3-none-any.whl" % dmxp.VERSION)
        self.assertEqual(err, "dmxp_build: %s is not tools/python of a dmxp source tree: "
                         "a pure wheel, without libdmxp" % root)

    def test_the_sdist_builds_a_pure_wheel(self):
        name = dmxp_build.build_sdist(self.tmp)
        self.assertEqual(name, "dmxp-%s.tar.gz" % dmxp.VERSION)
        # Unpacked where ../../lib/libdmxp.so.1 exists (as an sdist in
        # $TMPDIR/pip-req-build-X, with /lib on merged /usr): that library
        # is not the package's.
        req = os.path.join(self.tmp, "pip-req-build")
        with tarfile.open(os.path.join(self.tmp, name)) as t:
            names = t.getnames()
            t.extractall(req)
        base = "dmxp-%s/" % dmxp.VERSION
        for f in ("pyproject.toml", "PKG-INFO", "README.md", "dmxp/__init__.py",
                  "backend/dmxp_build.py"):
            self.assertIn(base + f, names)
        self.assertFalse([n for n in names if n.endswith(".so.1")])
        if os.path.exists(self.tree_lib):
            os.makedirs(os.path.join(self.tmp, "lib"))
            shutil.copy(self.tree_lib, os.path.join(self.tmp, "lib", SONAME))
        root = os.path.join(req, base)
        self.assertEqual(self.build_in(root), (
            "dmxp-%s-py3-none-any.whl" % dmxp.VERSION,
            "dmxp_build: %s is not tools/python of a dmxp source tree: "
            "a pure wheel, without libdmxp" % os.path.normpath(root)))

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
