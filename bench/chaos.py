"""The fault suite: simulated masters trade and followers execute through HAProxy,
three gateway nodes, two copier processes and one Redis (or, with `--sentinel`, a
primary, a replica and three sentinels), while a seeded schedule of faults breaks
them; then every invariant is checked on the run's history.

    .venv/bin/python bench/chaos.py --runs 20 --seed 1000          # runs 1000..1019
    .venv/bin/python bench/chaos.py --replay 1007                  # one seed again, verbose
    .venv/bin/python bench/chaos.py --runs 5 --faults 0            # no faults: the baseline
    .venv/bin/python bench/chaos.py --sentinel --runs 20           # failovers included

One deployment serves every run of an invocation (each run has its own accounts).
Each result is one JSON line (`--out`, default stdout); the last line sums them.
Exit status 1 when any run broke an invariant. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._chaos_check import SENTINEL_KINDS, SINGLE_REDIS_KINDS, schedule
from bench._chaos_run import run_once
from bench._deployment import local_deployment


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="how many runs (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run (default 1)")
    parser.add_argument("--replay", type=int, help="run this one seed and print its faults")
    parser.add_argument("--duration", type=float, default=8.0, help="trading seconds per run")
    parser.add_argument("--faults", type=int, default=4, help="faults per run (default 4)")
    parser.add_argument(
        "--kinds",
        help="fault kinds to draw from (comma list; default: every kind the topology has: "
        f"{','.join(SINGLE_REDIS_KINDS)}; with --sentinel {','.join(SENTINEL_KINDS)})",
    )
    parser.add_argument(
        "--sentinel",
        action="store_true",
        help="Redis primary + replica + 3 sentinels (ports from COPYGATE_TEST_REDIS_PORTS)",
    )
    parser.add_argument("--out", type=Path, help="append JSON lines here (default stdout)")
    parser.add_argument("--workdir", type=Path, help="logs and Redis data (default: a temp dir)")
    return parser.parse_args(argv)


async def _runs(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    seeds = [args.replay] if args.replay is not None else range(args.seed, args.seed + args.runs)
    default = SENTINEL_KINDS if args.sentinel else SINGLE_REDIS_KINDS
    kinds = [k for k in (args.kinds or ",".join(default)).split(",") if k]
    results = []
    with local_deployment(workdir, sentinel=args.sentinel) as deployment:
        for seed in seeds:
            faults = schedule(seed, args.duration, faults=args.faults, kinds=kinds)
            result = await run_once(deployment, faults, seed=seed, duration_s=args.duration)
            results.append(result)
            line = json.dumps(result if args.replay is not None else _short(result))
            if args.out:
                with args.out.open("a") as out:
                    out.write(line + "\n")
                if result["violations"]:  # the details of a failing run, for its post-mortem
                    with args.out.with_suffix(".failures.jsonl").open("a") as out:
                        out.write(json.dumps(result) + "\n")
            else:
                print(line, flush=True)
            print(
                f"seed {seed}: {len(result['violations'])} violations, "
                f"{len(result['faults'])} faults, {result['seconds']} s",
                file=sys.stderr,
                flush=True,
            )
    return results


#: what only a failing run's full record (`.failures.jsonl`) and a replay keep
_DETAILS = ("faults", "evidence", "master_intents", "master_sessions")


def _short(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in result.items() if k not in _DETAILS},
        "faults": [f["kind"] for f in result["faults"]],
        "fault_errors": [f["error"] for f in result["faults"] if "error" in f],
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over runs: faults by kind, violations by invariant, failing seeds."""
    kinds: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    for result in results:
        kinds.update(f["kind"] if isinstance(f, dict) else f for f in result["faults"])
        broken.update(v["invariant"] for v in result["violations"])
    return {
        "runs": len(results),
        "faults": dict(sorted(kinds.items())),
        "violations": dict(sorted(broken.items())),
        "failing_seeds": [r["seed"] for r in results if r["violations"]],
        "fault_errors": [r["seed"] for r in results if r.get("fault_errors")],
        "intents": sum(r["totals"]["intents"] for r in results),
        "commands": sum(r["totals"]["commands"] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    began = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="copygate-chaos-"))
    results = asyncio.run(_runs(args, workdir))
    total = {"summary": summarise(results), "seconds": round(time.monotonic() - began, 1)}
    print(json.dumps(total), flush=True)
    print(f"logs: {workdir}", file=sys.stderr)
    return 1 if total["summary"]["failing_seeds"] else 0


if __name__ == "__main__":
    sys.exit(main())
