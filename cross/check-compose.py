"""check-compose.py: validate a compose file against the Compose
Specification's JSON schema (the one compose-go embeds, passed as the
first argument), so that an unknown or misspelt key is an error, which
podman-compose's `config` does not catch.

    python3 cross/check-compose.py SCHEMA.json packaging/container/compose.yaml
"""

import json
import sys

import jsonschema
import yaml


def main(schema_path: str, compose_path: str) -> int:
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(compose_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        where = ".".join(str(p) for p in e.path) or "(top)"
        print(f"{compose_path}: {where}: {e.message}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {compose_path} follows the Compose Specification")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
