"""``python -m fastws``: what this install runs on, and how fast it is.

python -m fastws            implementation, SIMD level and a short benchmark
python -m fastws bench      fastws against every installed peer (websockets,
                            wsproto, aiohttp, picows, wsaccel, autobahn, numpy)
python -m fastws echo       an echo server (the Autobahn conformance run uses it; --workers N)
python -m fastws chat       the chat example (--workers N, --redis URL: across processes)
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastws", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench", help="compare the hot paths of fastws and every installed peer")
    bench.add_argument("--quick", action="store_true", help="a few cases of each operation, few samples: seconds, not minutes")
    bench.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    bench.add_argument("--plot", metavar="FILE.png", help="draw throughput against payload size (needs matplotlib)")
    bench.add_argument("--all-levels", action="store_true", help="time fastws at every SIMD level this CPU has, not only the selected one")
    bench.add_argument("--repeat", type=int, help="samples per case; the median is reported (default 21, 3 with --quick)")
    bench.add_argument("--sample-ms", type=float, help="the shortest sample, in ms (default 5, 0.5 with --quick)")
    bench.add_argument(
        "--only", action="append", metavar="OPERATION", help="apply_mask, apply_mask_into, validate_utf8, utf8_chunks or parse (repeatable)"
    )
    from . import serve

    serve.add_arguments(commands)  # echo, chat
    arguments = parser.parse_args(argv)
    if arguments.command in ("echo", "chat"):
        return serve.run(arguments)

    from . import bench as benchmark
    from .peers import OPERATIONS

    if arguments.command != "bench":
        return benchmark.run(repeat=5, intro=True, sample_ms=1.0)
    for operation in arguments.only or ():
        if operation not in OPERATIONS:
            parser.error(f"--only: no operation {operation!r} (choose from {', '.join(OPERATIONS)})")
    quick = arguments.quick
    return benchmark.run(
        repeat=arguments.repeat or (3 if quick else 21),
        as_json=arguments.json,
        quick=quick,
        all_levels=arguments.all_levels,
        plot_path=arguments.plot,
        operations=arguments.only,
        sample_ms=arguments.sample_ms or (0.5 if quick else 5.0),
    )


if __name__ == "__main__":
    sys.exit(main())
