# SPDX-License-Identifier: MIT
"""The build backend of the dmxp Python package (PEP 517 and PEP 660),
with the standard library only: `pip install ./tools/python` needs no
setuptools, no wheel and no network.

pyproject.toml's [project] table gives the metadata; [tool.dmxp-build]
the packages and the library to bundle:

    packages = ["dmxp"]                 directories copied into the wheel
    bundle = ["../../lib/libdmxp.so.1"]  files put into the first package
                                        when they exist (the build tree's
                                        library): the wheel is then
                                        platform-specific
    [tool.dmxp-build.dynamic]
    version = { attr = "dmxp.constants.VERSION" }

The config setting bundle=no (pip install -C bundle=no) builds a pure
wheel without the library.
"""
import ast
import base64
import hashlib
import io
import os
import re
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

def _files(packages):
    """(archive name, path) of each file of the packages, sorted."""
    out = []
    for pkg in packages:
        top = os.path.join(ROOT, pkg)
        for d, dirs, names in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for n in sorted(names):
                if n.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(d, n)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return out


def _bundled(packages, tool, config_settings):
    """(archive name, path) of the libraries to bundle that exist."""
    if (config_settings or {}).get("bundle", "yes") in ("no", "0", "false"):
        return []
    out = []
    for rel in tool.get("bundle", []):
        path = os.path.realpath(os.path.join(ROOT, rel))
        if os.path.isfile(path):
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


def _build(wheel_directory, config_settings, editable):
    project, tool = _project()
    version = _version(project, tool)
    packages = tool.get("packages", [project["name"]])
    bundled = [] if editable else _bundled(packages, tool, config_settings)
    tag = "py3-none-" + (platform_tag() if bundled else "any")
    name = _name(project)
    wheel = "%s-%s-%s.whl" % (name, version, tag)
    distinfo = "%s-%s.dist-info" % (name, version)
    z = _Zip(os.path.join(wheel_directory, wheel))
    if editable:
        # The source tree on sys.path: the package imported from there
        # finds the build tree's library.
        z.add("__editable__.%s.pth" % name, (ROOT + "\n").encode())
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
