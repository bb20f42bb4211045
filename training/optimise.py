"""Build every optimised variant and compare it with its source, against the project's goals.

    python -m training.optimise                    # every registered model's int8 variant
    python -m training.optimise --model yolo11n    # one source model's

Each variant ("<model>-int8", see core.models.variants) is built once into the export cache, then
evaluated by training.evaluate on its source's test set, beside its source in the same run:
assets/metrics/<variant>.json gets the usual figures plus a "variant" section (metric change,
top-1 agreement, latency of both, sizes). The last lines say which goals are met.
"""

from __future__ import annotations

import argparse

from core import REGISTRY, frameworks, service
from training import evaluate

# (largest latency ratio, largest loss): the loss in accuracy points for a classifier, in mAP50-95 for a detector
GOALS = {"mobilenet_v2-int8": (0.6, 1.0), "cifar10_cnn-int8": (0.6, 0.5), "mobilenet_v2_cifar10-int8": (0.6, 0.5),
         "yolo11n-int8": (0.7, 0.015)}
AGREEMENT_GOAL = {"mobilenet_v2-int8": 0.97}


def variants_of(sources: list[str] | None) -> list[str]:
    names = [name for name, spec in REGISTRY.items() if spec.variant_of and (not sources or spec.variant_of in sources)]
    unknown = sorted(set(sources or ()) - {REGISTRY[name].variant_of for name in names})
    if unknown:
        raise SystemExit(f"error: no variants of {', '.join(unknown)} (registered sources: "
                         f"{', '.join(sorted({s.variant_of for s in REGISTRY.values() if s.variant_of}))})")
    return names


def verdicts(name: str, report: dict) -> list[str]:
    """PASS/MISS lines for the goals of `name`, from its metrics file's "variant" section."""
    if name not in GOALS or not report or "variant" not in report:
        return []
    variant, (ratio_goal, loss_goal) = report["variant"], GOALS[name]
    lines = [_verdict(variant["latency_ratio"] <= ratio_goal,
                      f"{name}: latency {variant['latency_ratio']:.2f}x {variant['of']} (goal ≤ {ratio_goal}x)")]
    if "accuracy_change_points" in variant:
        loss = -variant["accuracy_change_points"]
        lines.append(_verdict(loss <= loss_goal, f"{name}: accuracy loss {loss:.2f} points (goal ≤ {loss_goal})"))
    else:
        loss = -variant["map50_95_change"]
        lines.append(_verdict(loss <= loss_goal, f"{name}: mAP50-95 loss {loss:.4f} (goal ≤ {loss_goal})"))
    if name in AGREEMENT_GOAL:
        agreement = variant["agreement_top1"]
        lines.append(_verdict(agreement >= AGREEMENT_GOAL[name],
                              f"{name}: top-1 agreement {agreement:.1%} (goal ≥ {AGREEMENT_GOAL[name]:.0%})"))
    return lines


def _verdict(met: bool, text: str) -> str:
    return f"{'PASS' if met else 'MISS'}  {text}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="a source model (default: every one)")
    args = parser.parse_args(argv)
    frameworks.torch()  # the detectors' validation (Ultralytics, PyTorch) runs after Keras models
    lines = []
    for name in variants_of(args.model):
        service.load(name)  # built here if the cache has none
        lines += verdicts(name, evaluate.evaluate(name))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
