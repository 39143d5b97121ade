# SPDX-License-Identifier: MIT
"""The build backend of the dmxp Python package (PEP 517 and PEP 660),
with the standard library only: `pip install ./tools/python` needs no
setuptools, no wheel and no network.

pyproject.toml's [project] table gives the metadata; [tool.dmxp-build]
the packages and the library to bundle:

    packages = ["dmxp"]                 directories copied into the wheel
    bundle = ["../../lib/libdmxp.so.1"]  the build tree's library, put
                                        into the first package: the wheel
                                        is then platform-specific
    [tool.dmxp-build.dynamic]
    version = { attr = "dmxp.constants.VERSION" }

A library is bundled only when this directory is tools/python of a dmxp
source tree (../../include/dmxp.h and ../../VERSION exist, and there is
no PKG-INFO: not an unpacked sdist), its file is libdmxp.so.VERSION of
the package, and it has every function the binding binds; otherwise the
wheel is pure, and one line on stderr says why.  The config setting
bundle=no (pip install --config-settings bundle=no) builds a pure wheel
without looking.
"""
import ast
import base64
import hashlib
import io
import os
import re
import sys
import sysconfig
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = "dmxp-build"


# ------------------------------------------------------------ pyproject.toml

def _toml_value(text, where):
    """A TOML value of the subset pyproject.toml uses: a basic string, an
    array of them, an inline table of them, true or false."""
    text = text.strip()
    if text.startswith('"'):
        return ast.literal_eval(re.match(r'"(?:[^"\\]|\\.)*"', text).group())
    text = re.sub(r"\s+#[^\"\]}]*$", "", text)    # a comment after the value
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("[") and text.endswith("]"):
        items = re.findall(r'"(?:[^"\\]|\\.)*"', text[1:-1])
        return [ast.literal_eval(s) for s in items]
    if text.startswith("{") and text.endswith("}"):
        pairs = re.findall(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*")', text[1:-1])
        return {k: ast.literal_eval(v) for k, v in pairs}
    raise ValueError("pyproject.toml: %s: unsupported value %r" % (where, text))


def parse_toml(text):
    """pyproject.toml as dicts: tomllib when there is one (3.11+), else
    a reader of the subset this file uses (tables, key = value, arrays
    over several lines)."""
    try:
        import tomllib
        return tomllib.loads(text)
    except ImportError:
        pass
    doc, table, pending = {}, None, None
    table = doc
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if pending is not None:
            pending[1] += " " + line.split(" #")[0]
            if line.startswith("]"):
                table[pending[0]] = _toml_value(pending[1], "line %d" % n)
                pending = None
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            table = doc
            for part in line.strip("[]").split("."):
                table = table.setdefault(part.strip().strip('"'), {})
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().strip('"'), value.strip()
        if value == "[":
            pending = [key, value]
        else:
            table[key] = _toml_value(value, "line %d" % n)
    return doc


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        doc = parse_toml(f.read())
    return doc["project"], doc.get("tool", {}).get(TOOL, {})


def _attr(spec):
    """The value of a module-level constant NAME of "pkg.mod.NAME", read
    from the source without importing it (importing dmxp loads libdmxp)."""
    module, _, name = spec.rpartition(".")
    path = os.path.join(ROOT, *module.split(".")) + ".py"
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError("%s: no constant %s" % (path, name))


def _version(project, tool):
    if "version" in project:
        return project["version"]
    return _attr(tool["dynamic"]["version"]["attr"])


def _metadata(project, version):
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"], "Version: " + version]
    if "description" in project:
        lines.append("Summary: " + project["description"])
    if "license" in project:
        lines.append("License: " + project["license"].get("text", ""))
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    for dep in project.get("dependencies", []):
        lines.append("Requires-Dist: " + dep)
    for c in project.get("classifiers", []):
        lines.append("Classifier: " + c)
    body = ""
    readme = project.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = "\n" + f.read()
    return ("\n".join(lines) + "\n" + body).encode("utf-8")


def _name(project):
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


# ----------------------------------------------------------------- the wheel

def _is_library(name):
    """libdmxp.so, libdmxp.so.1, ...: never copied from a package
    directory (only _bundled() puts a library into a wheel)."""
    return re.search(r"\.so(\.[0-9.]*)?$", name) is not None


def _files(packages):
    """(archive name, path) of each file of the packages, sorted."""
    out = []
    for pkg in packages:
        top = os.path.join(ROOT, pkg)
        for d, dirs, names in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for n in sorted(names):
                if n.endswith((".pyc", ".pyo")) or _is_library(n):
                    continue
                path = os.path.join(d, n)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return out


def _bound_functions(packages):
    """The names of the binding's _PROTOTYPES table (dmxp/_lib.py), read
    from the source."""
    path = os.path.join(ROOT, packages[0], "_lib.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_PROTOTYPES" for t in node.targets):
            return [ast.literal_eval(k) for k in node.value.keys]
    return []


def _in_source_tree():
    top = os.path.dirname(os.path.dirname(ROOT))
    return (os.path.isfile(os.path.join(top, "include", "dmxp.h")) and
            os.path.isfile(os.path.join(top, "VERSION")) and
            not os.path.exists(os.path.join(ROOT, "PKG-INFO")))


def _why_not(path, version, packages):
    """Why the library at path (resolved) cannot be bundled, or None."""
    if not os.path.isfile(path):
        return "%s is not built" % path
    if os.path.basename(path) != "libdmxp.so." + version:
        return "%s is not libdmxp.so.%s of this package" % (path, version)
    import ctypes
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        return "%s does not load (%s)" % (path, e)
    for name in _bound_functions(packages):
        if not hasattr(lib, name):
            return "%s is too old (no %s)" % (path, name)
    return None


def _bundled(packages, tool, config_settings, version):
    """(archive name, path) of the libraries to bundle: none, with a line
    on stderr, unless each is the tree's own and current."""
    if (config_settings or {}).get("bundle", "yes") in ("no", "0", "false"):
        return []
    if not tool.get("bundle"):
        return []
    if not _in_source_tree():
        print("dmxp_build: %s is not tools/python of a dmxp source tree: "
              "a pure wheel, without libdmxp" % ROOT, file=sys.stderr)
        return []
    out = []
    for rel in tool["bundle"]:
        path = os.path.realpath(os.path.join(ROOT, rel))
        why = _why_not(path, version, packages)
        if why:
            print("dmxp_build: %s: a pure wheel, without libdmxp" % why, file=sys.stderr)
            return []
        out.append(("%s/%s" % (packages[0], os.path.basename(rel)), path))
    return out


def platform_tag():
    """This machine's wheel platform tag: linux_x86_64, linux_aarch64..."""
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


class _Zip:
    """A wheel being written, with its RECORD."""

    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.record = []
        # SOURCE_DATE_EPOCH (reproducible builds), else 1980-01-01.
        epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", 315532800)), 315532800)
        self.date = time.gmtime(epoch)[:6]

    def add(self, name, data, mode=0o644):
        info = zipfile.ZipInfo(name, self.date)
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        self.record.append("%s,sha256=%s,%d" % (name, digest.decode(), len(data)))

    def close(self, record_name):
        self.record.append(record_name + ",,")
        info = zipfile.ZipInfo(record_name, self.date)
        info.external_attr = 0o100644 << 16
        self.zip.writestr(info, "\n".join(self.record) + "\n")
        self.zip.close()


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# The module an editable wheel installs, which its .pth imports at start-up.
_EDITABLE_FINDER = """\
# Written by dmxp_build (pip install -e): imports these packages from the
# source tree, without putting the rest of that directory on sys.path.
import importlib.util
import os
import sys

PACKAGES = @PACKAGES@


class EditableFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in PACKAGES:
            return None
        init = os.path.join(PACKAGES[name], "__init__.py")
        return importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[PACKAGES[name]])


if EditableFinder not in sys.meta_path:
    sys.meta_path.append(EditableFinder)
"""


def _build(wheel_directory, config_settings, editable):
    project, tool = _project()
    version = _version(project, tool)
    packages = tool.get("packages", [project["name"]])
    bundled = [] if editable else _bundled(packages, tool, config_settings, version)
    tag = "py3-none-" + (platform_tag() if bundled else "any")
    name = _name(project)
    wheel = "%s-%s-%s.whl" % (name, version, tag)
    distinfo = "%s-%s.dist-info" % (name, version)
    z = _Zip(os.path.join(wheel_directory, wheel))
    if editable:
        # A finder of the source tree's packages, and nothing else of
        # tools/python (tests, backend): imported from there, the
        # package finds the build tree's library.
        finder = "__editable___%s_finder" % name
        z.add(finder + ".py", _EDITABLE_FINDER.replace(
            "@PACKAGES@", repr({p: os.path.join(ROOT, p) for p in packages})).encode())
        z.add("__editable__.%s.pth" % name, ("import %s\n" % finder).encode())
    else:
        for arc, path in _files(packages):
            z.add(arc, _read(path))
        for arc, path in bundled:
            z.add(arc, _read(path), 0o755)
    z.add(distinfo + "/METADATA", _metadata(project, version))
    z.add(distinfo + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: dmxp_build\n"
                                "Root-Is-Purelib: %s\nTag: %s\n"
                                % ("false" if bundled else "true", tag)).encode())
    z.add(distinfo + "/top_level.txt", "".join(p + "\n" for p in packages).encode())
    z.close(distinfo + "/RECORD")
    return wheel


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel of the packages, with the build tree's library when it is
    built (py3-none-PLATFORM), else pure (py3-none-any)."""
    return _build(wheel_directory, config_settings, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel that puts this directory on sys.path (pip install -e)."""
    return _build(wheel_directory, config_settings, editable=True)


# ----------------------------------------------------------------- the sdist

def build_sdist(sdist_directory, config_settings=None):
    """NAME-VERSION.tar.gz: pyproject.toml, the readme, the backend and
    the packages (without the library: a wheel built from it is pure)."""
    project, tool = _project()
    version = _version(project, tool)
    packages = tool.get("packages", [project["name"]])
    base = "%s-%s" % (_name(project), version)
    members = [("pyproject.toml", os.path.join(ROOT, "pyproject.toml"))]
    if project.get("readme"):
        members.append((project["readme"], os.path.join(ROOT, project["readme"])))
    members += _files(["backend"] + packages)
    path = os.path.join(sdist_directory, base + ".tar.gz")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", 315532800))
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            info = tarfile.TarInfo("%s/%s" % (base, name))
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
        for arc, p in members:
            add(arc, _read(p))
        add("PKG-INFO", _metadata(project, version))
    return base + ".tar.gz"
