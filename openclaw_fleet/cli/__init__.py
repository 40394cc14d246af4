"""The ``fleet`` command's Python side (``bin/fleet`` sets up the toolchain, then calls it)."""
