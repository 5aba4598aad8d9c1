"""Summarises an Autobahn report (index.json): counts per behavior and behaviorClose,
the cases that are neither OK nor INFORMATIONAL; exits 1 when there is any.

    python autobahn/summarise.py reports/server-cython/index.json server cython [SECONDS]
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

PASSING = ("OK", "INFORMATIONAL")


def _key(case: str) -> tuple:
    return tuple(int(part) for part in case.split("."))


def main(argv: list) -> int:
    path = Path(argv[1])
    label = " ".join(argv[2:4])
    seconds = f" in {argv[4]} s" if len(argv) > 4 else ""
    if not path.exists():
        print(f"Autobahn {label}: no report at {path}")
        return 1
    index = json.loads(path.read_text())
    results = {case: result for agent in index.values() for case, result in agent.items()}
    if not results:
        print(f"Autobahn {label}: the report has no case")
        return 1
    behavior = collections.Counter(result["behavior"] for result in results.values())
    closing = collections.Counter(result["behaviorClose"] for result in results.values())
    bad = [
        case
        for case in sorted(results, key=_key)
        if results[case]["behavior"] not in PASSING or results[case]["behaviorClose"] not in PASSING
    ]
    counts = ", ".join(f"{count} {name}" for name, count in behavior.most_common())
    close_counts = ", ".join(f"{count} {name}" for name, count in closing.most_common())
    print(f"Autobahn {label}: {len(results)} cases{seconds}: behavior {counts}; behaviorClose {close_counts}")
    for case in bad:
        result = results[case]
        print(f"  {case}: {result['behavior']} / close {result['behaviorClose']} ({result.get('reportfile', '')})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
