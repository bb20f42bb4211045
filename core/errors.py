"""The errors a user can meet, one type per cause, each with a message written for that user.

Every front end maps them the same way, from the attributes below: the CLI prints
`error: <message>` (or a JSON error line per image) and exits with `exit_code`; a page shows the
message with st.error; the REST API answers with `http_status` and the body
{"error": {"code": <code>, "message": <message>}} (see `payload`). Anything else that escapes the
service is a bug, and the service wraps a model's failure on one input in InferenceError.
"""

from __future__ import annotations


class VisionError(Exception):
    """Base class: something the user can act on. `str(error)` is the whole message."""

    http_status = 500
    exit_code = 2  # 1: this input cannot be served; 2: the model or the set-up is not available
    code = "error"  # a stable name for clients to branch on (messages may be reworded)

    def payload(self) -> dict:
        """This error as every JSON front end reports it."""
        return {"code": self.code, "message": str(self)}


class ImageError(VisionError, ValueError):
    """An input that cannot be used as an image."""

    http_status = 400
    exit_code = 1
    code = "invalid_image"


class InvalidOptionError(VisionError, ValueError):
    """An option a model does not take, or a value outside its range (the message says which)."""

    http_status = 422
    exit_code = 1
    code = "invalid_option"


class InferenceError(VisionError, RuntimeError):
    """The model failed on this input; the cause is chained and named in the message."""

    http_status = 500
    exit_code = 1
    code = "inference_failed"


class UnknownModelError(VisionError, KeyError):
    """No registered model has this name."""

    http_status = 404
    code = "unknown_model"

    def __init__(self, name: str, registered: list[str]):
        super().__init__(name)
        self.name = name
        self.registered = list(registered)

    def __str__(self) -> str:  # KeyError's own __str__ would print the repr of the name
        return f"Unknown model {self.name!r}; registered: {', '.join(self.registered)}."


class ModelConfigError(VisionError):
    """A model's registry entry (its JSON sidecar) cannot be used; the message names the file."""

    http_status = 503
    code = "model_config"


class WeightsNotFoundError(VisionError, FileNotFoundError):
    """No copy of a model file could be found or downloaded; the message says where we looked."""

    http_status = 503
    code = "weights_not_found"


class WeightsDamagedError(VisionError):
    """A model file was found but cannot be loaded (truncated, or not what its name says); the
    message names the file and what the framework reported."""

    http_status = 503
    code = "weights_damaged"


class ConfigError(VisionError, ValueError):
    """A setting has a value we cannot use; the message names the variable and what it accepts."""

    code = "config"


class TooLargeError(VisionError):
    """An upload above the server's limit; refused while it streams in, before it is all read."""

    http_status = 413
    exit_code = 1
    code = "too_large"


class BusyError(VisionError):
    """The server's inference queue is full: try again after `retry_after_s` seconds."""

    http_status = 503
    code = "busy"

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InferenceTimeoutError(VisionError):
    """An inference took longer than the server allows."""

    http_status = 504
    exit_code = 1
    code = "timeout"


class RequestError(VisionError):
    """A request the API cannot read: not the form or JSON it expects (the message says what)."""

    http_status = 400
    exit_code = 1
    code = "invalid_request"
