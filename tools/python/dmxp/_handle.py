# SPDX-License-Identifier: MIT
"""What Region and Channel share: a library handle closed once, by
close(), by leaving a ``with`` block, or when the object is collected."""


class _Handle:
    """Base of objects owning ``self._handle``; subclasses define close()."""

    _handle = None

    @property
    def closed(self):
        """True once close() was called (a channel: also by closing its region)."""
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            try:
                self.close()
            except Exception:       # at interpreter exit, modules may be gone
                pass
