#!/usr/bin/env python3
"""Values out of a JSON document by jq-like paths (.src.addr, .tlvs[0].name),
for the bats helpers json_get and json_expect.

    jsonpath.py get JSON PATH
        Print the value at PATH: "null" for null, "true"/"false", compact
        JSON for an object or array, the text of anything else, nothing at
        all when PATH is absent.
    jsonpath.py expect JSON PATH VALUE [PATH VALUE]...
        Each PATH, printed as get prints it ("" when absent), must equal
        its VALUE; every mismatch is shown on stderr and the exit status
        is 1.  One process checks them all.
"""
import json
import re
import sys

PART = re.compile(r"\.([A-Za-z_0-9]+)|\[(\d+)\]")


def get(v, path):
    """The value at path as text, or None when it is absent."""
    for key, index in PART.findall(path):
        if key:
            if not isinstance(v, dict) or key not in v:
                return None
            v = v[key]
        else:
            i = int(index)
            if not isinstance(v, list) or i >= len(v):
                return None
            v = v[i]
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def main(argv):
    mode, doc = argv[1], json.loads(argv[2])
    if mode == "get":
        v = get(doc, argv[3])
        if v is not None:
            print(v)
        return 0
    args, bad = argv[3:], 0
    if len(args) % 2:
        sys.exit("json_expect: PATH without VALUE")
    for path, want in zip(args[0::2], args[1::2]):
        got = get(doc, path)
        got = "" if got is None else got
        if got != want:
            print("%s: expected: %s\n%s       got: %s"
                  % (path, want, " " * len(path), got), file=sys.stderr)
            bad = 1
    return bad


sys.exit(main(sys.argv))
