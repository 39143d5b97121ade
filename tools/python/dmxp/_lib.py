# SPDX-License-Identifier: MIT
"""ctypes declarations of libdmxp (include/dmxp.h) and the ABI structs
(include/uapi/linux/dmxp.h), and the loading of the library.

Which libdmxp is loaded, first match wins (``candidates()``):

1. ``$DMXP_LIBRARY``, a path to a ``libdmxp.so.1``: when it is set, only
   that one;
2. the ``libdmxp.so.1`` already loaded into the process (by another
   module, or a program embedding Python), so that there is one copy;
3. the copy bundled in this package (``dmxp/libdmxp.so.1``), which a
   wheel built from a tree with ``lib/`` built carries;
4. the build tree's ``lib/libdmxp.so.1`` when this package is imported
   from ``tools/python`` of a dmxp source tree;
5. the library directory ``make install`` recorded
   (``dmxp/_installed.py``);
6. ``libdmxp.so.1`` where the dynamic loader finds it: in each
   directory of ``LD_LIBRARY_PATH``, then in the ld.so cache
   (``ldconfig -p``; a file of another machine is left out), each loaded
   by its path; then the soname itself (the default directories);
7. ``sys.prefix/lib``, then ``/usr/local/lib``.

A library that loads but lacks a function the binding binds is too old:
it is passed over for the next one.  It stays loaded, so the soname
itself then names that copy: step 6 loads what the loader would find by
path, and says "shadowed by the too-old copy already loaded" when the
soname gives that copy back.  When none loads, the ImportError names
every place tried and why.
"""
import ctypes
import os
import sys
from ctypes import (POINTER, Structure, c_char_p, c_int, c_long, c_longlong,
                    c_size_t, c_ssize_t, c_uint, c_uint16, c_uint32, c_uint64,
                    c_void_p)

SONAME = "libdmxp.so.1"
LIBRARY_ENV = "DMXP_LIBRARY"


class MsgMeta(Structure):
    """struct dmxp_msg_meta: 40 bytes."""
    _fields_ = [
        ("message_id", c_uint64),
        ("timestamp_ns", c_uint64),
        ("channel_id", c_uint32),
        ("message_type", c_uint32),
        ("sender_pid", c_uint32),
        ("sender_runtime", c_uint16),
        ("flags", c_uint16),
        ("payload_len", c_uint32),
        ("_pad", c_uint32),
    ]


class ChanInfo(Structure):
    """struct dmxp_chan_info."""
    _fields_ = [
        ("id", c_uint32),
        ("flags", c_uint32),
        ("capacity", c_uint64),
        ("head", c_uint64),
        ("tail", c_uint64),
        ("depth", c_uint64),
        ("band_offset", c_uint64),
    ]


class Ref(Structure):
    """struct dmxp_ref: a slot claimed by reserve() or peek()."""
    _fields_ = [
        ("payload", c_void_p),
        ("meta", POINTER(MsgMeta)),
        ("len", c_uint32),
        ("claim", c_uint32),
        ("pos", c_uint64),
    ]


class SMsg(Structure):
    """struct dmxp_smsg: 16 bytes, one message of a batch send."""
    _fields_ = [("buf", c_void_p), ("len", c_uint32), ("type", c_uint32)]


class RMsg(Structure):
    """struct dmxp_rmsg: 56 bytes, one message of a batch receive."""
    _fields_ = [
        ("buf", c_void_p),
        ("buf_len", c_uint32),
        ("len", c_uint32),
        ("meta", MsgMeta),
    ]


# Offsets the fast paths read and write through memoryviews instead of
# ctypes attributes (checked against the structs below).
META_SIZE = 40
SMSG_SIZE = 16
RMSG_SIZE = 56
RMSG_LEN_OFFSET = 12          # RMsg.len
RMSG_META_OFFSET = 16         # RMsg.meta
# struct dmxp_channel_entry: where the wake protocol's words are.
HEADER_CHANNELS_OFFSET = 128
ENTRY_SIZE = 384
ENTRY_RECV_FUTEX = 48
ENTRY_SEND_FUTEX = 52

assert ctypes.sizeof(MsgMeta) == META_SIZE
assert ctypes.sizeof(SMsg) == SMSG_SIZE
assert ctypes.sizeof(RMsg) == RMSG_SIZE
assert RMsg.len.offset == RMSG_LEN_OFFSET
assert RMsg.meta.offset == RMSG_META_OFFSET
assert ctypes.sizeof(Ref) == 32


_p = c_void_p
# name: (restype, argtypes)
_PROTOTYPES = {
    "dmxp_region_open": (c_int, [c_char_p, c_size_t, c_uint, POINTER(c_void_p)]),
    "dmxp_region_close": (None, [_p]),
    "dmxp_region_unlink": (c_int, [c_char_p]),
    "dmxp_region_path": (c_char_p, [_p]),
    "dmxp_region_size": (c_size_t, [_p]),
    "dmxp_region_header": (c_void_p, [_p]),
    "dmxp_region_free": (c_size_t, [_p]),
    "dmxp_region_set_runtime": (c_int, [_p, c_uint]),
    "dmxp_chan_create": (c_int, [_p, c_uint, c_size_t]),
    "dmxp_chan_destroy": (c_int, [_p, c_uint]),
    "dmxp_chan_open": (c_int, [_p, c_uint, POINTER(c_void_p)]),
    "dmxp_chan_close": (None, [_p]),
    "dmxp_chan_id": (c_uint, [_p]),
    "dmxp_chan_capacity": (c_size_t, [_p]),
    "dmxp_chan_info": (c_int, [_p, c_uint, POINTER(ChanInfo)]),
    "dmxp_chan_list": (c_int, [_p, POINTER(c_uint), c_size_t]),
    "dmxp_chan_send": (c_int, [_p, c_void_p, c_size_t, c_uint32]),
    "dmxp_chan_recv": (c_ssize_t, [_p, c_void_p, c_size_t, c_void_p]),
    "dmxp_chan_reserve": (c_int, [_p, POINTER(Ref)]),
    "dmxp_chan_commit": (c_int, [_p, POINTER(Ref), c_size_t, c_uint32]),
    # abort and release return int since libdmxp 1.1 (void in 1.0).
    "dmxp_chan_abort": (c_int, [_p, POINTER(Ref)]),
    "dmxp_chan_peek": (c_int, [_p, POINTER(Ref)]),
    "dmxp_chan_release": (c_int, [_p, POINTER(Ref)]),
    "dmxp_chan_send_batch": (c_int, [_p, c_void_p, c_uint]),
    "dmxp_chan_recv_batch": (c_int, [_p, c_void_p, c_uint]),
    "dmxp_chan_recv_wait": (c_ssize_t, [_p, c_void_p, c_size_t, c_void_p, c_longlong]),
    "dmxp_chan_send_wait": (c_int, [_p, c_void_p, c_size_t, c_uint32, c_longlong]),
    "dmxp_chan_set_spin": (c_int, [_p, c_uint]),
    "dmxp_chan_set_timestamp": (c_int, [_p, c_uint]),
    "dmxp_chan_arm": (c_int, [_p, c_uint]),
    "dmxp_chan_disarm": (None, [_p, c_uint]),
    "dmxp_chan_fd": (c_int, [_p]),
}

PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _in_tree_library():
    """The build tree's lib/libdmxp.so.1 (built or not) when imported from
    tools/python of a source tree, else None."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(PKG_DIR)))
    if os.path.exists(os.path.join(top, "include", "dmxp.h")):
        return os.path.join(top, "lib", SONAME)
    return None


def _installed_libdir():
    """LIBDIR recorded by make install in dmxp/_installed.py, or None."""
    try:
        from . import _installed
    except ImportError:
        return None
    return getattr(_installed, "LIBDIR", None)


def candidates():
    """(where, path) of each library to try, in order; where is "env",
    "loaded" (a libdmxp.so.1 already in the process), "bundled", "build
    tree", "installed" (make install's LIBDIR), "loader" (path: the
    soname, found by the dynamic loader) or "prefix" (the fallbacks)."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return [("env", env)]
    out = [("loaded", SONAME), ("bundled", os.path.join(PKG_DIR, SONAME))]
    tree = _in_tree_library()
    if tree:
        out.append(("build tree", tree))
    libdir = _installed_libdir()
    if libdir:
        out.append(("installed", os.path.join(libdir, SONAME)))
    out.append(("loader", SONAME))
    for d in (os.path.join(sys.prefix, "lib"), "/usr/local/lib"):
        if os.path.join(d, SONAME) not in (p for _, p in out):
            out.append(("prefix", os.path.join(d, SONAME)))
    return out


class _DlInfo(Structure):
    _fields_ = [("dli_fname", c_char_p), ("dli_fbase", c_void_p),
                ("dli_sname", c_char_p), ("dli_saddr", c_void_p)]


def _file_of(handle):
    """The file a loaded library was mapped from (dladdr), or its soname."""
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes = [c_void_p, POINTER(_DlInfo)]
        info = _DlInfo()
        name = next(n for n in _PROTOTYPES if hasattr(handle, n))
        addr = ctypes.cast(getattr(handle, name), c_void_p)
        if dladdr(addr, ctypes.byref(info)) and info.dli_fname:
            return os.fsdecode(info.dli_fname)
    except (AttributeError, OSError, StopIteration):
        pass
    return SONAME


def _missing(handle):
    """The first function the binding binds that the library lacks, or None."""
    for name in _PROTOTYPES:
        if not hasattr(handle, name):
            return name
    return None


def _elf_machine(path):
    """The ELF class, byte order and machine of a file, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return head[4:6] + head[18:20]


def _ld_cache():
    """The paths the ld.so cache (ldconfig -p) lists for SONAME, in its
    order; none without ldconfig."""
    import subprocess
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig"):
        if os.path.exists(ldconfig):
            break
    else:
        return []
    try:
        out = subprocess.run([ldconfig, "-p"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True,
                             env=dict(os.environ, LC_ALL="C"), timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = []
    for line in out.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if sep and name.split(" (")[0] == SONAME:
            paths.append(path.strip())
    return paths


def _loader_files():
    """The SONAME files the dynamic loader would find, in its order: each
    directory of $LD_LIBRARY_PATH, then the ld.so cache.  A file built
    for another machine is left out, as ld.so leaves it."""
    dirs = os.environ.get("LD_LIBRARY_PATH", "").replace(";", ":").split(":")
    files = [os.path.join(d, SONAME) for d in dirs if d] + _ld_cache()
    ours = _elf_machine("/proc/self/exe")
    return [f for f in files if os.path.isfile(f) and
            (ours is None or _elf_machine(f) == ours)]


def _load():
    tried = []
    passed = set()      # realpaths of the libraries loaded and passed over

    def attempt(name, path):
        """The handle of the library at path if it has every function,
        else None with why in tried (a too-old one stays loaded)."""
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
            return None
        missing = _missing(handle)
        if missing is None:
            return handle
        real = os.path.realpath(_file_of(handle))
        if path == SONAME and real in passed:
            # The soname binds to a copy passed over above: dlopen
            # returns that one, never reaching the loader's own.
            tried.append("%s (shadowed by the too-old copy already loaded)" % name)
        else:
            tried.append("%s (too old: no %s)" % (name, missing))
        passed.add(real)
        return None

    for where, path in candidates():
        if where == "loaded":
            # Another component of the process loaded libdmxp.so.1 first:
            # use that copy rather than map a second one.
            try:
                handle = ctypes.CDLL(SONAME, mode=os.RTLD_NOLOAD | ctypes.DEFAULT_MODE)
            except OSError:
                continue
            missing = _missing(handle)
            if missing is None:
                return handle, _file_of(handle)
            tried.append("%s, already loaded (too old: no %s)" % (_file_of(handle), missing))
            passed.add(os.path.realpath(_file_of(handle)))
            continue
        if where == "loader":
            # Each file the loader would find, by its path: dlopen of the
            # soname would return a too-old copy passed over above.
            for f in _loader_files():
                if os.path.realpath(f) not in passed:
                    handle = attempt(f, f)
                    if handle is not None:
                        return handle, f
            handle = attempt(SONAME, SONAME)
            if handle is not None:
                return handle, _file_of(handle)
            continue
        if where != "env" and not os.path.exists(path):
            tried.append(path + " (no such file)")
            continue
        if os.path.realpath(path) in passed:
            continue
        name = "$%s=%s" % (LIBRARY_ENV, path) if where == "env" else path
        handle = attempt(name, path)
        if handle is not None:
            return handle, path
    raise ImportError("dmxp: cannot load %s; tried %s: build it with `make` in the dmxp tree "
                      "(and pip install ./tools/python again into a venv), or set $%s to its path"
                      % (SONAME, ", ".join(tried), LIBRARY_ENV))


def library_path():
    """The path (or soname) of the libdmxp this package loaded."""
    return path


lib, path = _load()

# Each function becomes an attribute of this module without its "dmxp_"
# prefix: _lib.chan_send is dmxp_chan_send.
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
    globals()[_name[len("dmxp_"):]] = _f
del _name, _res, _args, _f

# The C library's syscall(), for the futex the region-file poller sleeps on.
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = c_long
