"""``python -m fastws``: what this install runs on, and how fast it is.

    python -m fastws            implementation, SIMD level and a short benchmark
    python -m fastws bench      the benchmark, longer (--json for raw figures)
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastws", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench", help="compare the hot paths of every implementation and SIMD level")
    bench.add_argument("--repeat", type=int, default=15, help="timed runs per case; the median is reported")
    bench.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    arguments = parser.parse_args(argv)

    from . import bench as benchmark

    if arguments.command == "bench":
        return benchmark.run(repeat=arguments.repeat, as_json=arguments.json)
    return benchmark.run(repeat=5, as_json=False, quick=True)


if __name__ == "__main__":
    sys.exit(main())
