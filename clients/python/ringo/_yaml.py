"""A small YAML emitter for dicts, lists and scalars (enough for log_dict)."""

import json
import math
import re

# Strings that a YAML reader would take for something other than a string.
_RESERVED = {"", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"}
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_ ./\-]*$")
_NUMBERISH = re.compile(r"^[-+.]?(\d|\.(inf|nan))", re.IGNORECASE)


def _scalar(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    s = str(v)
    if (_PLAIN.match(s) and s.lower() not in _RESERVED and not s.endswith(" ")
            and not _NUMBERISH.match(s)):
        return s
    # A JSON string literal is a valid YAML double-quoted scalar.
    return json.dumps(s)


def _key(k):
    return _scalar(k if isinstance(k, str) else str(k))


def _lines(obj, indent):
    pad = "  " * indent
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list, tuple)) and v:
                yield "%s%s:" % (pad, _key(k))
                # Block sequences under a mapping key sit at the key's indentation.
                yield from _lines(v, indent if isinstance(v, (list, tuple)) else indent + 1)
            else:
                yield "%s%s: %s" % (pad, _key(k), _inline(v))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            if isinstance(item, (dict, list, tuple)) and item:
                sub = list(_lines(item, indent + 1))
                # Put the first line of the nested block on the dash line.
                yield "%s- %s" % (pad, sub[0].lstrip())
                yield from sub[1:]
            else:
                yield "%s- %s" % (pad, _inline(item))
    else:
        yield pad + _scalar(obj)


def _inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, (list, tuple)):
        return "[]"
    return _scalar(v)


def dump(obj):
    """Returns `obj` (nested dicts, lists/tuples, str, int, float, bool, None)
    as block-style YAML text ending in a newline. Keys are stringified; strings
    that could be read as another type are double-quoted."""
    if isinstance(obj, (dict, list, tuple)) and not obj:
        return _inline(obj) + "\n"
    return "\n".join(_lines(obj, 0)) + "\n"
