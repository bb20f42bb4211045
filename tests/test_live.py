"""Live mode's frame processing, fed real frames directly (no Streamlit, no WebRTC)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from core.config import DEFAULT_ICE_SERVERS, ice_servers
from core.live import LiveProcessor


@pytest.fixture()
def frame(photos):
    return np.asarray(Image.fromarray(photos["bus"]).resize((640, 480)))


def test_detector_frames_are_annotated_and_reported(yolo, frame):
    processor = LiveProcessor("yolo11n", imgsz=320)
    try:
        assert processor.submit(frame) is frame  # nothing processed yet: the frame itself comes back
        processor.wait_until_idle()
        result = processor.results.get(timeout=5)
        annotated = processor.submit(frame)
        assert annotated.shape == frame.shape and not np.array_equal(annotated, frame)  # boxes drawn
        assert result.frame == 1 and "bus" in result.summary and result.latency_ms > 0
    finally:
        processor.stop()


def test_a_burst_is_not_queued_only_the_newest_frame_runs(yolo, photos, frame):
    processor = LiveProcessor("yolo11n", imgsz=320)
    dog = np.asarray(Image.fromarray(photos["dog"]).resize((640, 480)))
    try:
        for _ in range(30):
            processor.submit(frame)  # far faster than the model
        processor.submit(dog)
        processor.wait_until_idle()
        assert processor.processed <= 3  # the first frame, perhaps one in flight, then the newest
        last = processor.results.get(timeout=5)
        assert last.frame == 31 and "dog" in last.summary and processor.results.empty()
    finally:
        processor.stop()


def test_classifier_frames_get_their_top_label(mobilenet, frame):
    processor = LiveProcessor("mobilenet_v2", top_k=3)
    try:
        processor.submit(frame)
        processor.wait_until_idle()
        result = processor.results.get(timeout=5)
        assert result.rows[0]["label"] == mobilenet.predict(frame).top.label and len(result.rows) == 3
        assert not np.array_equal(processor.submit(frame)[:20], frame[:20])  # the caption bar
    finally:
        processor.stop()


def test_ice_servers_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("VISION_ICE_SERVERS", raising=False)
    assert ice_servers() == DEFAULT_ICE_SERVERS
    turn = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    monkeypatch.setenv("VISION_ICE_SERVERS", json.dumps(turn))
    assert ice_servers() == turn
    monkeypatch.setenv("VISION_ICE_SERVERS", '{"urls": "stun:x"}')
    with pytest.raises(ValueError, match="JSON list"):
        ice_servers()


def test_a_failing_frame_is_reported_and_live_mode_goes_on(yolo, frame):
    processor = LiveProcessor("yolo11n", imgsz=320)
    try:
        processor.submit(np.zeros((4, 4), np.uint8))  # not an RGB frame: the model call fails
        processor.wait_until_idle()
        assert processor.error and processor.processed == 0
        processor.submit(frame)
        processor.wait_until_idle()
        assert processor.processed == 1 and "bus" in processor.results.get(timeout=5).summary
    finally:
        processor.stop()


def test_an_idle_worker_ends_and_the_next_frame_restarts_it(yolo, frame):
    """An ended browser session never says goodbye: its worker thread must not wait forever."""
    processor = LiveProcessor("yolo11n", imgsz=320, idle_exit_s=0.3)
    try:
        processor.submit(frame)
        processor.wait_until_idle()
        deadline = time.monotonic() + 5
        while processor.worker_alive and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not processor.worker_alive
        processor.submit(frame)
        processor.wait_until_idle()
        assert processor.processed == 2 and processor.results.get(timeout=5).frame == 2
    finally:
        processor.stop()
