"""`python -m core monitor report [--model NAME] [--window N | --since 1h] [--json]`: each model's
latest window of logged predictions against its reference profile.
`python -m core monitor check [--model NAME] [--rules FILE] [--json]`: the alert rules judged
(cron-able: exit code 1 when any rule fires)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_WINDOW = 500


def add_parser(commands) -> None:
    monitor = commands.add_parser("monitor", help="drift reports over the prediction log")
    actions = monitor.add_subparsers(required=True, metavar="ACTION")
    report = actions.add_parser("report", help="compare the latest window with the reference profile")
    report.add_argument("--model", action="append", help="a logged model (default: every one in the log)")
    report.add_argument("--window", type=int, default=DEFAULT_WINDOW, help=f"latest records (default {DEFAULT_WINDOW})")
    report.add_argument("--since", help="instead of --window: the records of the last 15m, 1h, 7d...")
    report.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate of each report")
    report.add_argument("--json", action="store_true", help="one JSON object per model")
    report.set_defaults(handler=_report)
    check = actions.add_parser("check", help="judge the alert rules; exit code 1 when any fires")
    check.add_argument("--model", action="append", help="a logged model (default: every one in the log)")
    check.add_argument("--rules", type=Path, help="a rules file (default: assets/monitoring/alerts.toml)")
    check.add_argument("--json", action="store_true", help="one JSON object: every judged rule and what changed")
    check.set_defaults(handler=_check)


def _report(args: argparse.Namespace) -> int:
    from core.errors import RequestError
    from core.models.registry import get_spec
    from core.monitoring import queries, report

    if args.window < 1:
        raise RequestError(f"--window must be at least 1, not {args.window}.")
    since_s = queries.parse_since(args.since) if args.since else None
    names = args.model or queries.models_logged(since_s)
    for name in names:
        get_spec(name)  # an unknown name fails with the registered ones listed
        found = report.build(name, args.window, since_s, args.alpha)
        print(json.dumps(found.to_dict()) if args.json else describe(found))
    if not names:
        print("the prediction log holds no predictions yet")
    return 0


def _check(args: argparse.Namespace) -> int:
    from core.models.registry import get_spec
    from core.monitoring import alerts, checks

    for name in args.model or ():
        get_spec(name)
    result = checks.check(args.model, alerts.load_rules(args.rules))
    if args.json:
        print(json.dumps({"firing": bool(result.firing), "alerts": [alert.to_dict() for alert in result.judged],
                          "changes": [change.to_dict() for change in result.changes],
                          "webhook_error": result.webhook_error}))
    else:
        for alert in result.judged:
            mark = "FIRING" if alert.firing else "ok"
            print(f"{alert.model:<22} {alert.rule:<10} {mark:<6} {alert.message}")
            if alert.firing:
                print(f"{'':<22} action: {alert.action}")
        if not result.judged:
            print("no rule could be judged yet: the prediction log holds too few records")
        if result.webhook_error:
            print(f"warning: {result.webhook_error}")
    return 1 if result.firing else 0


def describe(found) -> str:
    """A report as a person reads it in a terminal."""
    verdict = "DRIFT" if found.drift else "no drift"
    lines = [f"{found.model}: {verdict} ({found.window}: {found.records} records, against {found.reference or '-'})"]
    lines += [f"  note: {note}" for note in found.notes]
    for test in found.tests:
        mark = "drifted" if test.drifted else "ok"
        lines.append(f"  {test.feature:<11} {test.test:<4} p={test.p_adjusted:.3g} {mark:<8} {test.description}")
    return "\n".join(lines)
