"""Short ids and resource names for roster users.

The names hosted-OpenClaw services already give their users' apps, so an existing fleet can be
adopted as it is::

    shortId = userId.replace("user_", "").slice(-12).toLowerCase()   // JavaScript
    appName = `<prefix>-u-${shortId}`

JavaScript's ``String.replace`` with a string pattern replaces the first occurrence only, so
``short_id`` does the same. The prefix is the stack's ``namePrefix``.
"""

import re

# Fly app names and Docker object names both accept this; Fly caps app names at 63 characters.
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def short_id(user_id: str) -> str:
    """Return the 12-character-at-most short id of a Clerk-style user id.

    >>> short_id("user_2abc123def456")
    'abc123def456'
    """
    return user_id.replace("user_", "", 1)[-12:].lower()


def instance_name(prefix: str, user_id: str) -> str:
    """Return ``<prefix>-u-<shortId>``: the Fly app name and the Docker container name.

    Raises ValueError when the result is not a valid Fly app / Docker name (lowercase letters,
    digits and dashes, at most 63 characters).
    """
    name = f"{prefix}-u-{short_id(user_id)}"
    if not _NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid app name (lowercase letters, digits, dashes, <= 63)")
    return name
