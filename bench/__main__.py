"""`python -m bench` (`make bench`): graphql_app beside a REST baseline, PostGraphile and
the peers a team would pick instead (Apollo Server, graphql-yoga, stock Strawberry).

Starts every compared server as a real process on core 0, drives each with
wrk on core 1, round after round, and writes bench/results/latest.{json,md}
(latest-quick.* for --quick) plus timestamped copies; after a full run (not
--quick) it rewrites README.md's performance block from latest.json
(`--render-readme` does only that, from the latest.json already there).
bench/README.md tells how to read them.
"""

from __future__ import annotations

import argparse
import sys

from bench import load, readme, report
from bench.runner import BACKENDS, RESULTS_DIR, SCENARIO_IDS, Config, run


def _choices(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    unknown = [x for x in chosen if x not in allowed]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return chosen


def _parser() -> argparse.ArgumentParser:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--render-readme",
        action="store_true",
        help="run nothing: rewrite README.md's performance block from results/latest.json",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (under a minute): 1 round of 1 s cells",
    )
    parser.add_argument(
        "--rounds", type=int, help=f"interleaved rounds (default {defaults.rounds})"
    )
    parser.add_argument(
        "--duration", type=int, help=f"seconds per measurement (default {defaults.duration})"
    )
    parser.add_argument(
        "--warmup", type=int, help=f"warm-up seconds before each (default {defaults.warmup})"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=defaults.connections,
        help=f"wrk connections (default {defaults.connections})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help=f"requests/s of the fixed-rate measurements (default {defaults.rate:g})",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda s: _choices(s, SCENARIO_IDS, "scenario"),
        default=SCENARIO_IDS,
        help="comma-separated, from a,b,c,d,e,f (default all)",
    )
    parser.add_argument(
        "--backends",
        type=lambda s: _choices(s, BACKENDS, "backend"),
        default=BACKENDS,
        help="comma-separated, from sqlite,postgres (default both)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument(
        "--no-peers",
        action="store_true",
        help="leave out Apollo Server, graphql-yoga and stock Strawberry (about 2.5 min)",
    )
    return parser


def config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Config:
    config = Config(
        connections=args.connections,
        rate=args.rate,
        scenarios=args.scenarios,
        backends=args.backends,
        profile=not args.no_profile,
        peers=not args.no_peers,
        quick=args.quick,
    )
    if args.quick:
        config.rounds = 1
        config.duration = 1
        config.warmup = 0
        config.open_loop_duration = 1.0
        config.open_loop_warmup = 0.2
        config.login_duration = 2
        config.profile_duration = 1
        # (f) at a tenth of its size: seeding a million todos twice takes most of a minute.
        config.big_todos //= 10
        config.bulk_todos //= 10
    if args.rounds is not None:
        config.rounds = args.rounds
    if args.duration is not None:
        config.duration = args.duration
    if args.warmup is not None:
        config.warmup = args.warmup
    if config.rounds < 1 or config.duration < 1 or config.warmup < 0:
        parser.error("--rounds and --duration must be at least 1, --warmup at least 0")
    return config


def parse_args(argv: list[str] | None = None) -> Config:
    parser = _parser()
    return config_from(parser.parse_args(argv), parser)


def render_readme() -> int:
    changed = readme.update()
    state = "rewritten from" if changed else "already matches"
    print(f"{readme.README}: performance block {state} {readme.LATEST_JSON}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.render_readme:
        return render_readme()
    config = config_from(args, parser)
    if load.wrk_missing():
        print(load.WRK_MISSING, file=sys.stderr)
        return 2
    results = run(config)
    print()
    latest = RESULTS_DIR / report.latest_name(config.quick)
    print(latest.with_suffix(".md").read_text(encoding="utf-8"))
    print(f"results: {latest}.md and .json ({results['elapsed_s']:.0f} s)")
    if not config.quick:
        render_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
