"""Export an Ultralytics checkpoint to the ONNX file that core.models.yolo_onnx serves.

    python -m core.models.yolo_export WEIGHTS.pt TARGET.onnx [--imgsz 640]

It runs in a process of its own (core.models.runtimes.export_onnx starts it), so the PyTorch that
the export needs never stays in a server's memory. Besides Ultralytics' own export (dynamic
shapes, simplified), the file gets one extra output per feature map feeding the Detect head,
named by stride ("P3/8", "P4/16", "P5/32"), for EigenCAM; its metadata maps those names to the
layers' indices in the PyTorch network ("feature_layers").
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from core import frameworks


def export(weights: Path, target: Path, imgsz: int) -> None:
    ultralytics = frameworks.ultralytics()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / weights.name  # Ultralytics writes the export beside its input
        shutil.copy(weights, copy)
        yolo = ultralytics.YOLO(str(copy))
        layers, head = feature_layers(yolo.model), len(yolo.model.model) - 1
        exported = Path(yolo.export(format="onnx", dynamic=True, simplify=True, imgsz=imgsz))
        expose_features(exported, layers, head)
        shutil.move(exported, target)


def feature_layers(network) -> dict[str, int]:
    """The layers whose outputs feed YOLO's Detect head, named by stride: {"P3/8": 16, ...}."""
    detect = network.model[-1]
    strides = [int(s) for s in getattr(detect, "stride", [8, 16, 32])]
    return {f"P{s.bit_length() - 1}/{s}": int(index) for index, s in zip(detect.f, strides)}


def expose_features(path: Path, layers: dict[str, int], head: int) -> None:
    """Add an output named after each feature layer to the ONNX file at `path`. The exporter names
    each node after its PyTorch module ("/model.16/cv2/act/Mul"), so a layer's output is the tensor
    that a node of layer `index` makes and a node of the Detect head (layer `head`) reads."""
    import onnx

    model = onnx.load(str(path))
    producer = {tensor: node.name for node in model.graph.node for tensor in node.output}
    head_inputs = {tensor for node in model.graph.node if node.name.startswith(f"/model.{head}/")
                   for tensor in node.input}
    for name, index in layers.items():
        tensors = sorted(t for t in head_inputs if producer.get(t, "").startswith(f"/model.{index}/"))
        if len(tensors) != 1:
            raise RuntimeError(f"cannot find the output of layer {index} in {path.name} (found {tensors})")
        model.graph.node.append(onnx.helper.make_node("Identity", [tensors[0]], [name], name=f"features {name}"))
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", None, None, None]))
    model.metadata_props.append(onnx.StringStringEntryProto(key="feature_layers", value=json.dumps(layers)))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--imgsz", type=int, default=640)
    args = parser.parse_args(argv)
    export(args.weights.resolve(), args.target.resolve(), args.imgsz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
