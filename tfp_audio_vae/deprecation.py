"""Old names kept for one release: a renamed keyword, or a renamed module attribute, still works
and emits a `DeprecationWarning` naming its replacement. Every alias made here goes in 0.3."""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

REMOVED_IN = "0.3"
"""The release that drops every alias made here."""

F = TypeVar("F", bound=Callable[..., Any])


def warn(old: str, new: str, *, stacklevel: int = 3) -> None:
    """A `DeprecationWarning`: ``"{old} is deprecated, use {new}; it will be removed in 0.3"``."""
    warnings.warn(
        f"{old} is deprecated, use {new}; it will be removed in {REMOVED_IN}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """A decorator that accepts each old keyword (``old="new"``) for the new one, with a warning.

    #### Examples

    ```python
    @renamed_keywords(digits="labels")
    def count(*, labels=()):
        return len(labels)

    count(labels=[1, 2])  # ==> 2
    count(digits=[1, 2])  # ==> 2  (and a DeprecationWarning: digits= is deprecated, use labels=)
    ```

    Raises:
      TypeError: when a call passes both the old and the new keyword.
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__name__}() got both {old}= and {new}=")
                    warn(f"{old}=", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def module_getattr(module: str, renamed: Mapping[str, str]) -> Callable[[str], Any]:
    """A module's ``__getattr__`` serving each old attribute name (``{old: new}``) as the new
    one of that module, with a warning; any other name raises `AttributeError` as usual."""

    def getattr_(name: str) -> Any:
        if name not in renamed:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warn(name, renamed[name])
        return getattr(importlib.import_module(module), renamed[name])

    return getattr_
