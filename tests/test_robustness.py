"""The corruption benchmark: core.robustness.corruptions (the 15 corruptions of CIFAR-10-C /
ImageNet-C), training.robustness (its scoring and mCE), the committed assets/metrics/<model>_robustness.json
files and the dashboard's Robustness tab. Real images throughout: a CIFAR-10 test image (32 px,
CIFAR-10-C's constants) and a photo (375×500, ImageNet-C's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import load_image
from core.errors import ImageError, InvalidOptionError
from core.models.preprocess import fit_to_input
from core.models.weights import PROJECT_ROOT
from core.robustness.corruptions import CORRUPTIONS, RANDOM, SEVERITIES, _shuffle_locally, constant_set, corrupt, psnr

METRICS = PROJECT_ROOT / "assets" / "metrics"
BENCHMARKED = {"cifar10_cnn": "cifar10", "mobilenet_v2_cifar10": "cifar10", "mobilenet_v2": "imagenet-sample",
               "yolo11n": "coco128"}
# Benchmarks not run to the end yet (the 2-core machine ran out of session time): their checks are
# expected to fail until `python -m training.robustness --model NAME` has written them, and then
# fail loudly (strict), so this list is emptied as they land.
PENDING: set[str] = set()
NOT_YET = pytest.mark.xfail(strict=True, reason="corruption benchmark not run yet")


def benchmarked(names):
    return [pytest.param(name, marks=NOT_YET) if name in PENDING else name for name in names]

# Severity s -> s+1 pairs whose PSNR the published constants do not order (a severity is a step in
# difficulty for a model, not necessarily in pixel error):
ABOUT_EQUAL = {  # the two severities barely differ for this measure: PSNR within 0.5 dB either way
    ("cifar", "glass_blur", 1): "Gaussians of sigma 0.05 and 0.25 both move no pixel by half a grey level",
    ("cifar", "motion_blur", 3): "sigma 2 at radius 6 or 8: the extra taps weigh under 1e-7",
    ("cifar", "snow", 2): "the same share of the image kept (0.9); brighter flakes, thinned by a higher threshold",
    ("imagenet", "snow", 2): "the same share of the image kept (0.7); brighter flakes, thinned by a higher threshold",
    ("imagenet", "fog", 3): "the same strength (2.5); only the fractal's roughness changes",
    ("imagenet", "zoom_blur", 2): "a wider zoom range in fewer steps, so the sharp image weighs more",
}
NOT_ORDERED = {  # PSNR may rise: the severity makes the image harder in a way PSNR does not count
    ("cifar", "glass_blur", 2): "more blur after the same shuffle smooths part of the shuffle's error away",
    ("cifar", "glass_blur", 4): "more blur after the same shuffle smooths part of the shuffle's error away",
    ("cifar", "frost", 3): "the image's weight falls (0.9 -> 0.85) under the same frost weight",
    ("cifar", "frost", 4): "the image's weight falls (0.85 -> 0.75) faster than the frost's rises",
    ("imagenet", "frost", 3): "the image's weight falls (0.7 -> 0.65) under the same frost weight",
    **{(kind, "elastic_transform", s): "severities trade a global affine warp for local distortion"
       for kind in ("cifar", "imagenet") for s in (1, 2, 3, 4)},
}


@pytest.fixture(scope="module")
def cifar_image(data_dir) -> np.ndarray:
    return load_image(sorted((data_dir / "cifar10" / "test" / "ship").glob("*.jpg"))[0])


@pytest.fixture(scope="module")
def photo_image(data_dir) -> np.ndarray:
    return load_image(data_dir / "photos" / "cat.jpg")


@pytest.fixture(scope="module")
def images(cifar_image, photo_image) -> dict[str, np.ndarray]:
    return {"cifar": cifar_image, "imagenet": photo_image}


# ---- the corruptions -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruptions_keep_shape_and_dtype_and_repeat_for_a_seed(name, images):
    for image in images.values():
        first = corrupt(image, name, 3, seed=7)
        assert first.shape == image.shape and first.dtype == np.uint8
        assert np.array_equal(first, corrupt(image, name, 3, seed=7))  # the same bytes again
        assert not np.array_equal(first, image)
        other = corrupt(image, name, 3, seed=8)
        assert np.array_equal(first, other) != (name in RANDOM)  # only the random ones depend on the seed


def test_the_seed_can_name_an_image_of_a_set(cifar_image):
    """A benchmark passes (seed, image index): each image its own draw, reproducibly."""
    fifth = corrupt(cifar_image, "shot_noise", 2, seed=(0, 5))
    assert np.array_equal(fifth, corrupt(cifar_image, "shot_noise", 2, seed=(0, 5)))
    assert not np.array_equal(fifth, corrupt(cifar_image, "shot_noise", 2, seed=(0, 6)))


@pytest.mark.parametrize("name", CORRUPTIONS)
@pytest.mark.parametrize("kind", ["cifar", "imagenet"])
def test_psnr_falls_with_severity(name, kind, images):
    image = images[kind]
    assert constant_set(image.shape) == kind
    values = [psnr(image, corrupt(image, name, severity, seed=0)) for severity in SEVERITIES]
    # every severity changes the image (CIFAR's mildest defocus, a 3×3 Gaussian of sigma 0.4, by 42 dB)
    assert all(np.isfinite(values)) and max(values) < 45
    for severity, (before, after) in enumerate(zip(values, values[1:]), start=1):
        key = (kind, name, severity)
        if key in NOT_ORDERED:
            continue
        if key in ABOUT_EQUAL:
            assert after <= before + 0.5, f"{key}: {values}"
        else:
            assert after < before, f"{key}: PSNR {values} rises at severity {severity + 1}"


@pytest.mark.parametrize("name, severity, message", [
    ("blur", 1, "Unknown corruption 'blur'"),
    ("Gaussian Noise", 1, "choose one of: gaussian_noise"),
    ("gaussian_noise", 0, "from 1 to 5"),
    ("gaussian_noise", 6, "from 1 to 5"),
    ("gaussian_noise", 2.0, "from 1 to 5"),
    ("gaussian_noise", "3", "from 1 to 5"),
    ("gaussian_noise", True, "from 1 to 5"),
])
def test_bad_name_or_severity_is_an_invalid_option(name, severity, message, cifar_image):
    with pytest.raises(InvalidOptionError, match=message):
        corrupt(cifar_image, name, severity)


@pytest.mark.parametrize("image", [np.zeros((32, 32), np.uint8), np.zeros((32, 32, 4), np.uint8),
                                   np.zeros((32, 32, 3), np.float32), np.zeros((4, 32, 3), np.uint8), [[0, 0, 0]]])
def test_anything_but_an_rgb_uint8_image_is_an_image_error(image):
    with pytest.raises(ImageError):
        corrupt(image, "contrast", 1)


@pytest.mark.parametrize("shape, expected", [((32, 32), "cifar"), ((64, 480), "cifar"), ((65, 65), "imagenet"),
                                             ((224, 224), "imagenet"), ((480, 640), "imagenet")])
def test_constants_are_chosen_by_the_shorter_side(shape, expected):
    assert constant_set(shape) == expected


@pytest.mark.parametrize("shape, max_shift", [((12, 12), 1), ((15, 11), 2), ((20, 17), 4)])
def test_glass_blur_waves_give_the_authors_loop_exactly(shape, max_shift):
    """The vectorised shuffle against the authors' loop, on the same offsets."""
    grid = np.arange(shape[0] * shape[1]).reshape(shape)
    waves = _shuffle_locally(grid, max_shift, np.random.default_rng(3))
    visits = (shape[0] - 2 * max_shift) * (shape[1] - 2 * max_shift)
    shifts = np.random.default_rng(3).integers(-max_shift, max_shift, size=(visits, 2))
    looped, visit = grid.copy(), 0
    for h in range(shape[0] - max_shift, max_shift, -1):
        for w in range(shape[1] - max_shift, max_shift, -1):
            dx, dy = shifts[visit]
            visit += 1
            looped[h, w], looped[h + dy, w + dx] = looped[h + dy, w + dx], looped[h, w]
    assert np.array_equal(waves, looped) and not np.array_equal(waves, grid)


def test_the_imagenet_benchmark_corrupts_the_pixels_the_model_crops(photo_image):
    """Resized first as mobilenet_v2 resizes, an image reaches the model as the same 224-px crop
    (to one grey level: the model samples its crop straight from the original)."""
    from training.robustness import at_model_scale

    resized = at_model_scale(photo_image, 224, 0.875)
    assert min(resized.shape[:2]) == 256
    cropped = fit_to_input(resized, 224, "center-crop", 0.875)
    width, height = resized.shape[1], resized.shape[0]
    left, top = (width - 224) // 2, (height - 224) // 2
    assert np.array_equal(cropped, resized[top:top + 224, left:left + 224])  # at scale 1 a plain crop
    difference = np.abs(cropped.astype(int) - fit_to_input(photo_image, 224, "center-crop", 0.875))
    assert difference.max() <= 1 and difference.mean() < 0.05


# ---- corruption error ------------------------------------------------------------------------------

def test_corruption_error_is_relative_to_the_baseline():
    from training.robustness import corruption_errors, relative_corruption_errors

    baseline = {c: [0.8, 0.7, 0.6, 0.5, 0.4] for c in CORRUPTIONS}  # errors 0.2 .. 0.6: sum 2.0
    model = {c: [0.9, 0.85, 0.8, 0.75, 0.7] for c in CORRUPTIONS}  # errors sum 1.0
    assert set(corruption_errors(baseline, baseline).values()) == {100.0}
    assert set(corruption_errors(model, baseline).values()) == {50.0}
    # drops from clean 0.9: 0 + .05 + .1 + .15 + .2 = 0.5, the baseline's from 0.9: 0.1 + ... + 0.5 = 1.5
    relative = relative_corruption_errors(model, 0.9, baseline, 0.9)
    assert list(relative) == list(CORRUPTIONS) and all(v == pytest.approx(33.333, abs=1e-3) for v in relative.values())


@pytest.mark.slow
def test_accuracy_over_corruptions_does_not_rise_with_severity(weights_dir, data_dir):
    """cifar10_cnn on a 200-image stratified slice of the CIFAR-10 test set, as the benchmark runs it."""
    from training import robustness

    data = robustness.load_set("cifar10", ["cifar10_cnn"], 200)
    assert len(data.images) == 200 and np.bincount(data.labels).tolist() == [20] * 10
    scores, _, _ = robustness.benchmark(data, ["cifar10_cnn"])
    cnn = scores["cifar10_cnn"]
    by_severity = [np.mean([cnn.table[c][s] for c in CORRUPTIONS]) for s in range(len(SEVERITIES))]
    assert cnn.clean >= by_severity[0] and all(a >= b for a, b in zip(by_severity, by_severity[1:])), by_severity
    assert by_severity[-1] < cnn.clean - 0.15  # severity 5 hurts


@pytest.mark.slow
def test_shards_of_corruptions_resume_into_one_benchmark(weights_dir, data_dir, tmp_path, monkeypatch, capsys):
    """--corruptions saves its part as checkpoints; a full run reads them instead of recomputing."""
    from core import service
    from core.models.runtimes import short_digest
    from training import robustness

    monkeypatch.setenv("VISION_CACHE_DIR", str(tmp_path / "cache"))
    shard = ["--model", "cifar10_cnn", "--limit", "10", "--out", str(tmp_path)]
    robustness.main([*shard, "--corruptions", "contrast,fog"])
    saved = sorted(path.name for path in (tmp_path / "cache").rglob("*.npz"))
    version = short_digest(service.load("cifar10_cnn").weights)  # a retrained model starts afresh
    assert not list(tmp_path.glob("*.json")) and saved == [f"cifar10_cnn-{version}.{c}.npz" for c in ("contrast", "fog")]
    capsys.readouterr()
    robustness.main(shard)
    printed = capsys.readouterr().out
    assert printed.count("read from") == 2 and "contrast           read from" in printed
    report = json.loads((tmp_path / "cifar10_cnn_robustness.json").read_text())
    assert report["mce"]["value"] == 100 and len(report["corruptions"]["fog"]) == 5


# ---- the committed benchmark -----------------------------------------------------------------------

@pytest.mark.parametrize("name", benchmarked(BENCHMARKED))
def test_committed_benchmarks_carry_the_required_keys(name):
    path = METRICS / f"{name}_robustness.json"
    assert path.is_file(), f"run `python -m training.robustness --model {name}`"
    report = json.loads(path.read_text())
    assert report["model"] == name and report["metric"] == ("map50_95" if name == "yolo11n" else "accuracy")
    dataset = report["dataset"]
    # the detector's 40 coco128 photos hold 286 labelled objects, each scored at 10 IoU thresholds
    assert dataset["images"] >= (40 if name == "yolo11n" else 200) and dataset["corruption_seed"] == 0 and dataset["constants"].split()[0] == (
        "cifar" if BENCHMARKED[name] == "cifar10" else "imagenet")
    assert list(report["corruptions"]) == list(CORRUPTIONS)
    values = [v for row in report["corruptions"].values() for v in row]
    assert len(values) == 75 and all(0 <= v <= 1 for v in values)
    assert 0 < report["mean_corrupted"] < report["clean"] <= 1
    assert report["mean_corrupted"] == pytest.approx(np.mean(values), abs=1e-4)
    assert report["mean_by_severity"][0] > report["mean_by_severity"][-1]
    mce = report["mce"]
    if BENCHMARKED[name] == "cifar10":
        assert mce["baseline"] == "cifar10_cnn" and mce["normalised"] and 20 < mce["value"] < 200
        # the subset's size: about ±1 point for the baseline; a nested 500-image part for the slower model
        assert report["mean_corrupted_ci95"] <= (0.0125 if name == "cifar10_cnn" else 0.03)
    else:
        assert mce["baseline"] is None and not mce["normalised"] and "unnormalised" in mce["definition"]
        assert mce["value"] == pytest.approx(100 * (1 - report["mean_corrupted"]), abs=0.01)
    provenance = report["provenance"]
    assert len(provenance["model_sha256"]) == 64 and provenance["git_commit"] and report["wall_time_s"]["this run"] > 0


@pytest.mark.xfail(bool(PENDING & {"cifar10_cnn", "mobilenet_v2_cifar10"}), strict=True,
                   reason="corruption benchmark not run yet")
def test_the_cifar_baseline_scores_100_on_the_same_images():
    cnn = json.loads((METRICS / "cifar10_cnn_robustness.json").read_text())
    assert cnn["mce"]["value"] == 100 and set(cnn["mce"]["per_corruption"].values()) == {100}
    mobilenet = json.loads((METRICS / "mobilenet_v2_cifar10_robustness.json").read_text())
    # a nested part of the baseline's images, or the same ones
    assert mobilenet["dataset"]["images"] < cnn["dataset"]["images"] and "nested" in mobilenet["dataset"]["subset"] or (
        mobilenet["dataset"]["subset_digest"] == cnn["dataset"]["subset_digest"])


@pytest.mark.slow
def test_a_detector_scores_the_png_copies_as_the_original_jpegs(weights_dir, data_dir, tmp_path):
    """The benchmark's detection path (decoded, written as PNG, validated) gives training.evaluate's mAP."""
    import shutil

    from core.evaluation.detection import IMAGES, evaluate_yolo_folder
    from training import robustness

    data = robustness.load_set("coco128", ["yolo11n"], 6)
    shutil.copytree(data_dir / "coco128" / "labels", tmp_path / "labels")
    (tmp_path / IMAGES).mkdir(parents=True)
    for path in data.files:
        shutil.copy(path, tmp_path / IMAGES / path.name)
    model = robustness.service.load("yolo11n")
    expected = evaluate_yolo_folder(model.weights, tmp_path, dict(enumerate(model.labels)))["map50_95"]
    assert robustness.detector_map("yolo11n", data, data.images) == expected > 0.3


# ---- the dashboard ---------------------------------------------------------------------------------

def test_dashboard_robustness_tab_shows_every_benchmark(weights_dir):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/dashboard.py")
    at.run()
    assert not at.exception
    table = next(frame.value for frame in at.dataframe if "mCE (%)" in frame.value).set_index("model")
    for name in set(BENCHMARKED) - PENDING:
        report = json.loads((METRICS / f"{name}_robustness.json").read_text())
        assert table.loc[name, "clean"] == report["clean"] and table.loc[name, "mCE (%)"] == report["mce"]["value"]
    if "cifar10_cnn" not in PENDING:
        assert table.loc["cifar10_cnn", "mCE relative to"] == "cifar10_cnn"
    attacked = next(frame.value for frame in at.dataframe if "PGD" in frame.value)
    for name in ("cifar10_cnn", "mobilenet_v2_cifar10", "mobilenet_v2"):
        section = json.loads((METRICS / f"{name}_robustness.json").read_text())["adversarial"]
        rows = attacked[attacked["model"] == name]
        assert rows["PGD"].tolist() == [r["pgd_accuracy"] for r in section["results"]]
        assert set(rows["clean"]) == {section["clean_accuracy"]}
    at.selectbox(key="robustness_corruption").set_value("frost").run()
    assert not at.exception


def test_the_adversarial_figure_starts_each_attack_at_the_clean_accuracy():
    from core.evaluation.reports import adversarial_table, load_robustness
    from core.viz.robustness_charts import adversarial_figure

    table = adversarial_table(load_robustness(METRICS))
    assert set(table["model"]) == {"cifar10_cnn", "mobilenet_v2_cifar10", "mobilenet_v2"}  # the detector has no attack
    figure = adversarial_figure(table)
    assert len(figure.data) == 2 * 3
    for trace in figure.data:
        rows = table[table["model"] == trace.name.rsplit(" ", 1)[0]]
        assert trace.x[0] == 0 and trace.y[0] == rows["clean"].iloc[0]
        assert list(trace.y[1:]) == rows[trace.name.rsplit(" ", 1)[1]].tolist()
        assert all(later <= earlier for earlier, later in zip(trace.y[1:], trace.y[2:]))  # larger ε, no better
    assert adversarial_table({}).empty


def test_severity_figures_overlay_the_models():
    from core.evaluation.reports import load_robustness
    from core.viz.robustness_charts import MEAN, severity_figure, small_multiples_figure

    benchmarks = load_robustness(METRICS)
    panels = small_multiples_figure(benchmarks)
    assert len(panels.data) == len(CORRUPTIONS) * len(benchmarks)
    assert sum(trace.showlegend for trace in panels.data) == len(benchmarks)  # one legend entry per model
    mean = severity_figure(benchmarks, MEAN)
    assert [trace.y[0] for trace in mean.data] == [b["clean"] for b in benchmarks.values()]  # severity 0: clean
