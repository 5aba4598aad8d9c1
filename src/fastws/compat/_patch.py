"""Reversible replacement of attributes on other libraries' modules and classes.

Every adapter records what it replaces here, so that ``uninstall()`` puts back exactly
what was there before (including "nothing", for an attribute that did not exist), in
reverse order.
"""

from __future__ import annotations

from typing import Any, List, Tuple

__all__ = ["Patches"]

_MISSING = object()


class Patches:
    """A stack of attribute replacements, undone in reverse order."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: List[Tuple[Any, str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self._saved)

    def set(self, owner: Any, name: str, value: Any) -> Any:
        """Replaces ``owner.name`` with ``value``; returns what it was (as looked up)."""
        # vars() rather than getattr(): a class attribute is restored on the class
        # that defined it, never copied onto a subclass.
        self._saved.append((owner, name, vars(owner).get(name, _MISSING)))
        original = getattr(owner, name, None)
        setattr(owner, name, value)
        return original

    def undo(self) -> bool:
        """Restores every replaced attribute, the last replaced first; False if there
        was none."""
        if not self._saved:
            return False
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        return True
