"""`python -m tests.sim --seed N [--bug NAME] [--profile P]` or `--seeds A:B`: run seeds, print
their reports."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")
os.environ.setdefault("TULIP_ENV", "test")


def main() -> int:
    import django

    django.setup()  # the product's modules (tulip.flags, ops.services) may need the apps
    from tests.sim.planted import BUGS
    from tests.sim.run import PROFILES, run_seed

    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--seeds", default="0:1", help="a range A:B of seeds (B excluded)")
    parser.add_argument("--bug", choices=BUGS)
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument("--verbose", action="store_true", help="report every seed, not only failures")
    args = parser.parse_args()
    first, _, last = args.seeds.partition(":")
    seeds = [args.seed] if args.seed is not None else range(int(first), int(last or first) + 1)
    from collections import Counter

    failed = 0
    regional = Counter[str]()  # region faults and reconciliations over the seeds run
    for seed in seeds:
        print(f"seed {seed}", file=sys.stderr, flush=True) if os.environ.get("SIM_TRACE") else None
        result = run_seed(seed, args.bug, profile=args.profile)
        if args.verbose or not result.ok:
            print(result.report(), flush=True)
        failed += not result.ok
        if result.scenario.regions is not None:
            regional["seeds with regions"] += 1
            regional.update({k: v for k, v in result.injected.items() if k.startswith("region:")})
    if regional:
        print(f"regions: {dict(sorted(regional.items()))}")
    print(f"{len(seeds)} seed(s), {failed} with violations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
