"""Parameter checks in the house message style: ``name=value`` must <rule>; <fix>.

One helper per kind of value, used by the library at its public edges (``Experiment``, filters,
strategies, models, sessions); the CLI and the app pass values through and show the message.
"""

from __future__ import annotations

import numbers

from .exceptions import ParameterError


def _fail(name, value, rule, fix=None):
    msg = f"{name}={value!r} {rule}"
    raise ParameterError(f"{msg}; {fix}" if fix else msg, param=name, value=value)


def check_int(name, value, minimum=1, fix=None, maximum=None) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum`` (and
    ``<= maximum`` when one is given).

    Raises :class:`ParameterError` "``name=value`` must be an integer >= minimum[; fix]", or
    "... must be an integer between minimum and maximum[; fix]" with a ``maximum``.
    """
    bad = isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
    if maximum is not None and (bad or value > maximum):
        _fail(name, value, f"must be an integer between {minimum} and {maximum}", fix)
    if bad:
        _fail(name, value, f"must be an integer >= {minimum}", fix)
    return int(value)


def check_text(name, value, fix=None) -> str:
    """``value`` stripped, if it is a string with a non-blank character.

    Raises :class:`ParameterError` "``name=value`` must be a non-empty text[; fix]".
    """
    if not isinstance(value, str) or not value.strip():
        _fail(name, value, "must be a non-empty text", fix)
    return value.strip()


def check_float(name, value, minimum=0.0, inclusive=False, fix=None) -> float:
    """``value`` as a ``float`` if it is a real number ``> minimum`` (``>=`` with ``inclusive``).

    Raises :class:`ParameterError` "``name=value`` must be a number > minimum[; fix]".
    """
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and value == value
          and (value >= minimum if inclusive else value > minimum))
    if not ok:
        bound = f"{'>=' if inclusive else '>'} {minimum:g}"
        _fail(name, value, f"must be a number {bound}", fix)
    return float(value)


def check_choice(name, value, choices, fix=None):
    """``value`` if it is one of ``choices`` (names compared as given).

    Raises :class:`ParameterError` "``name=value`` is unknown; choose one of a, b, c".
    """
    choices = tuple(choices)
    if value not in choices:
        _fail(name, value, "is unknown", fix or f"choose one of {', '.join(map(str, choices))}")
    return value


def check_name(name, value, choices, fix=None) -> str:
    """Like :func:`check_choice` for a name given as text: stripped and lower-cased first."""
    key = str(value).strip().lower()
    if key not in tuple(choices):
        _fail(name, value, "is unknown", fix or f"choose one of {', '.join(map(str, choices))}")
    return key
