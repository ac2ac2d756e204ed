"""``python -m runner.simulator``: serve the simulator in the foreground (manual testing; the CLI has
``regate sim``). Accepted API keys come from ``--api-key`` or ``REGATE_SIM_API_KEY`` (as in ``regate sim``);
with neither, any non-empty key is accepted."""

from __future__ import annotations

import argparse
import os
import sys

from runner.errors import RegateError
from runner.simulator.server import run_sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--world", default=None, help="world YAML (default: the packaged world)")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression factor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default=None, help="fault spec, see runner/simulator/faults.py")
    parser.add_argument("--api-key", action="append", default=[], help="accepted key (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="one terse stderr line per request")
    args = parser.parse_args(argv)
    env_key = os.environ.get("REGATE_SIM_API_KEY", "")
    keys = args.api_key or ([env_key] if env_key else [])
    try:
        return run_sim(
            args.host, args.port, args.world, args.speed, args.seed, args.faults, keys, verbose=args.verbose
        )
    except RegateError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
