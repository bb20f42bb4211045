"""Move a registry alias to a version: promotion, and rollback (the same command, an older version).

    python -m training.promote cifar10_cnn --version 3 --reason "retrained on new data"
    python -m training.promote cifar10_cnn --version 1 --reason "rollback: v3 misreads night photos"
    python -m training.promote cifar10_cnn --history

Each move is recorded with who made it, why and when, as tags on the version and in the model's
alias log. The app and API serve the new champion when they next load the model (with
VISION_MLFLOW_ALIAS=champion; restart a running server).
"""

from __future__ import annotations

import argparse
import sys

from training import model_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="a registered model, e.g. cifar10_cnn")
    parser.add_argument("--version", help="the version the alias moves to")
    parser.add_argument("--alias", default=model_registry.CHAMPION)
    parser.add_argument("--reason", default="promoted by hand", help="recorded with the move")
    parser.add_argument("--by", help="who made the move (default: this user)")
    parser.add_argument("--history", action="store_true", help="print the model's alias moves and stop")
    args = parser.parse_args(argv)
    exceptions = model_registry.tracking.mlflow().exceptions
    try:
        if args.history:
            for record in model_registry.alias_log(args.name):
                print(f"{record['at']}  {record['alias']}: {record['previous']} -> {record['version']}  "
                      f"by {record['by']}: {record['reason']}")
            return 0
        if not args.version:
            parser.error("give --version (or --history)")
        model_registry.client().get_model_version(args.name, args.version)  # exists, or a clear error
        record = model_registry.set_alias(args.name, args.alias, args.version, args.reason, args.by)
    except exceptions.MlflowException as error:
        print(f"error: {args.name} version {args.version}: {error.message}", file=sys.stderr)
        return 2
    print(f"{args.name}: {args.alias} moved from version {record['previous']} to {record['version']} "
          f"({record['reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
