"""The roster's JSON Schema and field table, both generated from the pydantic models.

python -m openclaw_fleet.roster.docs --schema > users/roster.schema.json
python -m openclaw_fleet.roster.docs --docs     # the table in users/ROSTER.md
"""

from __future__ import annotations

import json
import sys

from openclaw_fleet.roster.model import EXTRA_ENV_NAMES, FLY_REGIONS, PROVIDER_KEY_NAMES, Defaults, Roster


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a roster file, for editors and CI."""
    schema = Roster.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "openclaw-fleet roster"
    return schema


def docs_table() -> str:
    """Markdown table of a user entry's fields, from the JSON Schema (so it cannot drift)."""
    entry = json_schema()["$defs"]["UserEntry"]
    defaults = Defaults().model_dump(by_alias=True)
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for key, prop in entry["properties"].items():
        prop = next((p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"), prop)
        if "enum" in prop and len(prop["enum"]) > 6:
            kind = f"one of {len(prop['enum'])} codes, below"
        elif "enum" in prop:
            kind = " \\| ".join(f"`{value}`" for value in prop["enum"])
        elif "pattern" in prop:
            kind = f"string `{prop['pattern']}`"
        elif prop.get("type") == "object":
            kind = "map"
        else:
            kind = prop.get("type", "")
        if key in entry.get("required", []):
            default = "required"
        else:
            default = f"`{defaults[key]}` (`defaults`)" if defaults.get(key) else "unset"
        description = entry["properties"][key].get("description") or prop.get("description", "")
        rows.append(f"| `{key}` | {kind} | {default} | {description} |")
    allowed = ", ".join(f"`{name}`" for name in PROVIDER_KEY_NAMES)
    extra = ", ".join(f"`{name}`" for name in EXTRA_ENV_NAMES)
    regions = ", ".join(f"`{code}`" for code in FLY_REGIONS)
    return (
        "\n".join(rows)
        + f"\n\nRegions (Fly's, https://fly.io/docs/reference/regions/): {regions}.\n"
        + f"\nProvider key names: {allowed}.\n\nExtra env names: {extra}.\n"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--schema"]:
        print(json.dumps(json_schema(), indent=2))
    elif sys.argv[1:] == ["--docs"]:
        print(docs_table(), end="")
    else:
        sys.exit("usage: python -m openclaw_fleet.roster.docs --schema | --docs")
