"""openclaw-fleet: one isolated OpenClaw gateway per user, from a YAML roster (see the README)."""
