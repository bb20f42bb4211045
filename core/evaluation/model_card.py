"""A model card (Mitchell et al., 2019, "Model Cards for Model Reporting") for one of our trained
classifiers, written from its sidecar and its metrics file only: model details, intended use,
factors, metrics, evaluation and training data, quantitative analyses, ethical considerations,
caveats. Logged with each registered version and shown on the dashboard.

Accuracy intervals are Wilson score intervals (95%) from the accuracy and the number of test images,
so the card needs no per-image predictions.
"""

from __future__ import annotations

import math

Z95 = 1.959964

JPEG_CAVEAT = ("The CIFAR-10 copy used here is JPEG re-encoded (quality 75, 4:2:0 chroma), about 30 dB PSNR from the "
               "official pixels; that costs a few points of accuracy, so compare with published CIFAR-10 figures only "
               "with this in mind.")


def wilson_interval(share: float, count: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion observed as `share` of `count` trials."""
    if count <= 0:
        return 0.0, 1.0
    centre = (share + Z95**2 / (2 * count)) / (1 + Z95**2 / count)
    half = Z95 * math.sqrt(share * (1 - share) / count + Z95**2 / (4 * count**2)) / (1 + Z95**2 / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def model_card(sidecar: dict, metrics: dict | None, version: str | None = None) -> str:
    """The card as Markdown. `version` is the registry version it describes, when there is one."""
    sections = [_details(sidecar, version), _intended_use(sidecar), _factors(), _metrics(metrics),
                _data(sidecar, metrics), _analyses(metrics), _calibration(sidecar, metrics), _ethics(), _caveats(sidecar)]
    return "\n\n".join(section for section in sections if section) + "\n"


def _details(sidecar: dict, version: str | None) -> str:
    training = sidecar.get("training", {})
    provenance = training.get("provenance", {})
    lines = [
        f"# Model card: {sidecar['name']}",
        "## Model details",
        f"- **Title:** {sidecar.get('title', sidecar['name'])}",
        f"- **Description:** {sidecar.get('description', '')}",
        f"- **Input:** RGB pixels {sidecar['input_size']}×{sidecar['input_size']} (0-255, preprocessing inside the "
        f"model); **output:** probabilities over {len(sidecar['labels'])} classes",
        f"- **Trained by:** `{training.get('script', 'unknown script')}` at commit {provenance.get('git_commit', '?')}, "
        f"started {provenance.get('started', '?')}, {training.get('wall_time_s', 0) / 60:.0f} min on "
        f"{provenance.get('hardware', '?')} ({provenance.get('software', '?')})",
        f"- **Parameters:** {training.get('params', 0):,}; file `{sidecar.get('artifact')}` "
        f"({sidecar.get('artifact_bytes', 0) / 1e6:.1f} MB)",
    ]
    if version:
        lines.append(f"- **Registry version:** {version}")
    return "\n".join(lines)


def _intended_use(sidecar: dict) -> str:
    return "\n".join([
        "## Intended use",
        f"- Teaching and comparing image classifiers side by side on the {len(sidecar['labels'])} CIFAR-10 classes "
        f"({', '.join(sidecar['labels'])}), with explanations (Grad-CAM).",
        "- Not for decisions about people, safety or security: it knows only these classes and answers one of them "
        "for any image, including images of none of them.",
    ])


def _factors() -> str:
    return "\n".join([
        "## Factors",
        "- Images are shrunk to the model's input; small, centred objects like CIFAR-10's suit it, cluttered scenes "
        "and photos with several objects do not.",
        "- Lighting, blur, noise and compression change its answers (see the robustness benchmark when it exists).",
    ])


def _metrics(metrics: dict | None) -> str:
    if not metrics or "classification" not in metrics:
        return "## Metrics\nNo metrics file: run `python -m training.evaluate --model NAME`."
    report = metrics["classification"]
    count = report["images"]
    low, high = wilson_interval(report["accuracy"], count)
    return "\n".join([
        "## Metrics",
        f"- **Top-1 accuracy:** {report['accuracy']:.4f} (95% CI {low:.4f}–{high:.4f}, Wilson, {count:,} images)",
        f"- **Top-5 accuracy:** {report['top5_accuracy']:.4f}",
        f"- **Macro F1:** {report['macro_f1']:.4f}; macro precision {report['macro_precision']:.4f}, "
        f"macro recall {report['macro_recall']:.4f}",
        f"- **Expected calibration error:** {report['calibration']['ece']:.4f}",
        _latency(metrics.get("performance")),
    ])


def _latency(performance: dict | None) -> str:
    if not performance:
        return ""
    return (f"- **Latency:** p50 {performance['latency_p50_ms']:.2f} ms, p95 {performance['latency_p95_ms']:.2f} ms "
            f"per image (batch 1, model call only), {performance.get('throughput_batch32_ips') or '—'} images/s at "
            "batch 32, on the evaluation machine")


def _data(sidecar: dict, metrics: dict | None) -> str:
    provenance = sidecar.get("training", {}).get("provenance", {})
    evaluation = metrics.get("dataset", "—") if metrics else "—"
    return "\n".join([
        "## Evaluation data",
        f"- {evaluation}",
        "## Training data",
        f"- {provenance.get('data_source', 'unknown')}: {provenance.get('train_images', 0):,} training images, "
        f"{provenance.get('val_images', 0):,} for validation (model selection and calibration); data digest "
        f"`{provenance.get('data_digest', '?')}`. The test images are never used to choose anything.",
    ])


def _analyses(metrics: dict | None) -> str:
    if not metrics or "classification" not in metrics:
        return ""
    rows = ["## Quantitative analyses", "| class | precision | recall (95% CI) | F1 | images |", "|---|---|---|---|---|"]
    for row in metrics["classification"]["per_class"]:
        low, high = wilson_interval(row["recall"], row["support"])
        rows.append(f"| {row['label']} | {row['precision']:.3f} | {row['recall']:.3f} ({low:.3f}–{high:.3f}) | "
                    f"{row['f1']:.3f} | {row['support']:,} |")
    return "\n".join(rows)


def _calibration(sidecar: dict, metrics: dict | None) -> str:
    record = sidecar.get("calibration")
    if not record:
        return "## Calibration\nNot calibrated: its probabilities may be over- or under-confident."
    before, after = record["val_ece"]
    line = (f"Temperature scaling (T = {record['temperature']}), fitted on {record['val_images']:,} validation "
            f"images: validation ECE {before:.4f} → {after:.4f}.")
    if metrics and "classification" in metrics:
        line += f" Test ECE {metrics['classification']['calibration']['ece']:.4f}."
    return "## Calibration\n" + line


def _ethics() -> str:
    return ("## Ethical considerations\nCIFAR-10's images were gathered from the web (the 80 Million Tiny Images "
            "collection, since withdrawn for offensive labels elsewhere in it); CIFAR-10's own classes are objects "
            "and animals, not people.")


def _caveats(sidecar: dict) -> str:
    lines = ["## Caveats and recommendations", f"- {JPEG_CAVEAT}"]
    if "mobilenet" in sidecar["name"]:
        lines.append("- Its ImageNet starting weights were trained on ImageNet's training images; the ImageNet sample "
                     "in our data folder probably comes from them, so ImageNet figures are a sanity check only.")
    lines.append("- Figures come from one training run (one seed); a rerun differs by a few tenths of a point.")
    return "\n".join(lines)
