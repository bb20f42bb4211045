"""Uploaded files from a multipart/form-data body, read as it streams in.

Starlette's own form parser limits the size of plain fields but not of files (it spools them to
disk whatever their size), so the API parses the form itself with python-multipart's streaming
parser: a file is refused with TooLargeError the moment it passes its limit, having held at most
that much. (The limit on the whole body is core.api.limits'.) Nothing of a file name is used but
its text: it is echoed back as `image`, never opened as a path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from core.errors import RequestError, TooLargeError

MAX_FILES = 64  # per request; more would only queue up behind each other


@dataclass
class Upload:
    field: str  # the form field it came in
    filename: str
    data: bytearray = field(default_factory=bytearray, repr=False)


async def read_uploads(content_type: str, chunks: AsyncIterator[bytes], fields: tuple[str, ...],
                       max_file_bytes: int) -> list[Upload]:
    """The files sent in the form fields `fields`, in the order sent. Raises RequestError for a body
    that is not such a form, TooLargeError for a file above `max_file_bytes`."""
    kind, parameters = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in parameters:
        raise RequestError(f"Send the image as multipart/form-data, in a form field named {_either(fields)}.")
    form = _Form(fields, max_file_bytes)
    parser = MultipartParser(parameters[b"boundary"], form.callbacks())
    async for chunk in chunks:
        parser.write(chunk)
    parser.finalize()
    if not form.uploads:
        raise RequestError(f"The form holds no file: send the image in a field named {_either(fields)}.")
    return form.uploads


def _either(fields: tuple[str, ...]) -> str:
    return " or ".join(f"`{name}`" for name in fields)


class _Form:
    """python-multipart's callbacks, collecting the files of the wanted fields."""

    def __init__(self, fields: tuple[str, ...], max_file_bytes: int):
        self.fields = fields
        self.max_file_bytes = max_file_bytes
        self.uploads: list[Upload] = []
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add(data[start:end], value=False),
            "on_header_value": lambda data, start, end: self._add(data[start:end], value=True),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _add(self, text: bytes, value: bool) -> None:
        if value:
            self._header_value += text
        else:
            self._header_name += text

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in disposition:
            raise RequestError(f"The form field {name!r} is not a file: options go in the query string "
                               f"(for example ?top_k=3), and the image in {_either(self.fields)}.")
        if name not in self.fields:
            raise RequestError(f"The form field {name!r} is not one this route reads: send the image in "
                               f"{_either(self.fields)}.")
        if len(self.uploads) == MAX_FILES:
            raise RequestError(f"At most {MAX_FILES} files per request: send the rest in another.")
        self.uploads.append(Upload(name, disposition[b"filename"].decode("utf-8", "replace")))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self.uploads[-1]
        upload.data += data[start:end]
        if len(upload.data) > self.max_file_bytes:
            raise TooLargeError(f"{upload.filename!r} is larger than this server's limit of "
                                f"{self.max_file_bytes / 1e6:g} MB per file.")
