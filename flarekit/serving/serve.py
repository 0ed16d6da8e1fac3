"""A web page for live forecasts: `flarekit serve --run RUN`.

Standard library only (`http.server`): the page at `/` has the model card of
the run (settings, scores with intervals, caveats, from config.json and
metrics.json) and an upload form; an uploaded FITS / JP2 / PNG / JPEG / .npy
file goes to `POST /api/predict`, as the raw request body or as a standard
`multipart/form-data` upload (a browser form, `curl -F file=@x.fits`), and
comes back as the forecast probability, class, decision threshold, warnings,
timings, and the input with its saliency map laid over it
(`flarekit.interpret`).

Everything a file can get wrong (not an image, a shape or channel count the
model cannot take, a declared size beyond the limits, mostly missing pixels)
is answered with HTTP 400 / 413 and a message the page shows; the request
thread ends and the server keeps serving. Sizes a file declares are checked
before it is decoded (`flarekit.serving.predict.load_image`), so a decompression bomb
costs a header read. The model is called under a lock, so concurrent uploads
are safe.

It binds 127.0.0.1 by default: a forecast service for one user's machine, not
a hardened public server (no authentication, no TLS). Its limits:

- Host: only the names of the bound address are answered (127.0.0.1 and
  localhost by default; `--allow-host NAME` adds one), so a web page whose
  name an attacker re-points at 127.0.0.1 (DNS rebinding) gets 403.
- Origin: a request another site's page makes (an `Origin` that is not this
  server's, or `Sec-Fetch-Site: cross-site`) gets 403 and is not processed.
- Bodies: a `Content-Length` is required (411) and must be a whole number
  (400); larger than `--max-upload-mb` gets 413; a body that stops arriving
  gets 408 after `--request-timeout` seconds (sockets time out, no thread
  waits for ever).
- Concurrency: at most `--max-concurrent` connections (one request each) are
  handled at once; the next gets 503 at once. An idle connection holds its
  place for at most `--request-timeout` seconds.

Routes:
    GET  /                 the page
    GET  /api/model        the model card as JSON
    GET  /report.md        the run's report, as text
    GET  /health           "ok"
    POST /api/predict?name=FILE&channel_map=MAP&method=METHOD   (body: the
         file, or multipart/form-data with a `file` part and optional
         `channel_map`, `method` and `name` fields)

Example:
    >>> server, thread = start_server("runs/.../20260101T000000Z", port=0)
    >>> server.server_address
    ('127.0.0.1', 54321)
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from flarekit.report import json_safe

DEFAULT_MAX_UPLOAD_BYTES = 32 * 2**20
# Bodies larger than this many times the limit are not even drained: the
# connection is closed after the 413 answer.
_DRAIN_FACTOR = 16
# Connections handled at once (one request each: HTTP/1.0); more get 503.
# Forecasts share one model under a lock, so more would only queue, each
# holding its upload; fewer could be filled by a browser's idle pre-connections.
DEFAULT_MAX_CONCURRENT = 8
# Seconds a socket read may wait (request line, headers, each piece of the
# body) before the request is given up (408): no thread waits for ever on a
# client that sends less than it announced.
DEFAULT_REQUEST_TIMEOUT_S = 10.0
# Slowest body accepted, bytes per second on average: a 32 MiB upload may take
# up to 8.5 minutes, a client trickling a byte at a time is cut off.
_MIN_BODY_RATE = 64 * 2**10
# The names answered when bound to loopback.
_LOOPBACK_NAMES = ("127.0.0.1", "localhost")
_MAX_MULTIPART_PARTS = 16


def _png_data_url(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def default_method(methods) -> str:
    """Grad-CAM for CNNs, attention rollout for ViTs, else the first available."""
    for method in ("grad_cam", "attention_rollout"):
        if method in methods:
            return method
    return methods[0] if methods else ""


class RequestError(ValueError):
    """A request the server refuses: `status` and a message naming the field."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def parse_multipart(content_type: str, body: bytes) -> tuple:
    """The file and form fields of a `multipart/form-data` body (RFC 7578).

    Args:
        content_type: the request's Content-Type header (with its boundary).
        body: the whole body.

    Returns:
        (file bytes, file name or "", {field: text}) where the file is the
        part named "file", else the first part with a file name.

    Raises:
        RequestError: no boundary, no closing delimiter, too many parts, or no
            file part (400).

    Example:
        >>> parse_multipart('multipart/form-data; boundary=b',
        ...     b'--b\\r\\nContent-Disposition: form-data; name="file"; '
        ...     b'filename="x.npy"\\r\\n\\r\\nDATA\\r\\n--b--\\r\\n')
        (b'DATA', 'x.npy', {})
    """
    from email.message import Message
    from email.parser import BytesHeaderParser
    from email.policy import HTTP

    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not boundary or not isinstance(boundary, str) or len(boundary) > 200:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"Content-Type {content_type!r}: a multipart upload needs a boundary "
            "parameter (1 to 200 characters).",
        )
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    pieces = (b"\r\n" + body).split(delimiter)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            "multipart body: no closing boundary '--" + boundary + "--' (a "
            "truncated upload, or a Content-Type boundary that is not the body's).",
        )
    if len(pieces) - 2 > _MAX_MULTIPART_PARTS:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"multipart body: {len(pieces) - 2} parts; at most "
            f"{_MAX_MULTIPART_PARTS} are read.",
        )
    upload, filename, upload_field, fields = None, "", None, {}
    for piece in pieces[1:-1]:
        # After a delimiter: optional transport padding, CRLF, the part's
        # headers, a blank line, its content.
        piece = piece.lstrip(b" \t")
        piece = piece[2:] if piece.startswith(b"\r\n") else piece
        head, separator, data = piece.partition(b"\r\n\r\n")
        if not separator:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "multipart body: a part has no blank line after its headers.",
            )
        headers = BytesHeaderParser(policy=HTTP).parsebytes(head + b"\r\n\r\n")
        field = headers.get_param("name", header="content-disposition")
        given = headers.get_filename()
        if given is not None or field == "file":
            # The part named "file" wins over other file parts; else the first.
            if upload is None or (field == "file" and upload_field != "file"):
                upload, filename, upload_field = data, given or "upload", field
        elif isinstance(field, str):
            fields[field] = data.decode("utf-8", errors="replace")
    if upload is None:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            "multipart body: no file part (expected a field named 'file', as "
            "curl -F file=@image.fits sends).",
        )
    return upload, Path(filename.replace("\\", "/")).name, fields


class ForecastService:
    """The state behind the page: the forecaster, its card, the limits.

    Args:
        forecaster: a `flarekit.serving.predict.Forecaster`.
        max_upload_bytes: largest upload accepted.
        max_nonfinite_fraction: largest fraction of NaN / infinite pixels on
            the disk that is forecast from (`flarekit.serving.predict`).
    """

    def __init__(
        self,
        forecaster,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_nonfinite_fraction: float | None = None,
    ):
        from flarekit import interpret
        from flarekit.serving.predict import DEFAULT_MAX_NONFINITE_FRACTION

        self.forecaster = forecaster
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_nonfinite_fraction = (
            DEFAULT_MAX_NONFINITE_FRACTION
            if max_nonfinite_fraction is None
            else float(max_nonfinite_fraction)
        )
        if not 0.0 <= self.max_nonfinite_fraction <= 1.0:
            raise ValueError(
                f"max_nonfinite_fraction {max_nonfinite_fraction!r}: expected a "
                "fraction from 0 to 1 (--max-nonfinite)."
            )
        self.card = forecaster.card()
        self.methods = interpret.available_methods(forecaster.model)
        self.served = 0

    def predict(
        self, content: bytes, name: str, channel_map: str | None, method: str | None
    ) -> tuple:
        """(HTTP status, JSON-able answer) for one upload."""
        from flarekit import interpret

        started = time.perf_counter()
        row = self.forecaster.forecast_file(
            name,
            channel_map or None,
            content=content,
            name=name,
            max_nonfinite_fraction=self.max_nonfinite_fraction,
        )
        if row["error"]:
            return HTTPStatus.BAD_REQUEST, {
                "error": row["error"],
                "nonfinite_fraction": row["nonfinite_fraction"],
            }
        forecast_seconds = time.perf_counter() - started
        method = method or default_method(self.methods)
        if method not in self.methods:
            return HTTPStatus.BAD_REQUEST, {
                "error": f"saliency method {method!r} does not apply to this model; "
                f"choose one of {list(self.methods)}."
            }
        inputs = row["input"]
        started = time.perf_counter()
        with self.forecaster.lock:
            saliency = interpret.saliency_maps(
                self.forecaster.model, inputs[None], method
            )[0]
        saliency_seconds = time.perf_counter() - started
        # Show a channel that came from the file: the one with the largest
        # spread (a channel filled from the channel map is constant).
        shown = int(
            np.argmax(
                np.nanstd(np.where(np.isfinite(inputs), inputs, np.nan), axis=(0, 1))
            )
        )
        self.served += 1
        return HTTPStatus.OK, {
            "name": name,
            "probability": row["probability"],
            "class": row["class"],
            "threshold": row["threshold"],
            "probabilities": row.get("probabilities"),
            "nonfinite_fraction": row["nonfinite_fraction"],
            "warnings": [w for w in row["warnings"].split("; ") if w],
            "forecast_ms": 1000 * forecast_seconds,
            "saliency_ms": 1000 * saliency_seconds,
            "method": method,
            "channel_shown": self.forecaster.channels[shown],
            "input_png": _png_data_url(
                interpret.overlay_rgb(inputs[..., shown], np.zeros_like(saliency))
            ),
            "overlay_png": _png_data_url(
                interpret.overlay_rgb(inputs[..., shown], saliency)
            ),
        }

    def model_json(self) -> dict:
        return {
            **self.card,
            "methods": list(self.methods),
            "max_upload_bytes": self.max_upload_bytes,
            "max_nonfinite_fraction": self.max_nonfinite_fraction,
            "channels": list(self.forecaster.channels),
            "input_shape": list(self.forecaster.input_shape),
        }


def _split_host(value: str) -> tuple:
    """'name:port' / '[::1]:port' / 'name' -> (lower-case name, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    return name.rstrip("."), int(port) if port.isdigit() else None


def _upload_name(text: str) -> str:
    """The file name an upload is reported under: no folders, 200 characters."""
    return Path(str(text).replace("\\", "/")).name[:200] or "upload"


def _handler_class(service: ForecastService, policy: dict):
    class Handler(BaseHTTPRequestHandler):
        server_version = "flarekit"
        # StreamRequestHandler sets this on the socket: every read of the
        # request line, the headers and the body gives up after it.
        timeout = policy["request_timeout_s"]

        def log_message(self, format, *args):
            sys.stderr.write(
                f"flarekit serve: {self.address_string()} {format % args}\n"
            )

        def _send(self, status, body: bytes, content_type: str, close: bool = False):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status, answer: dict, close: bool = False):
            body = json.dumps(json_safe(answer), allow_nan=False).encode()
            self._send(status, body, "application/json", close)

        def _refuse(self, error: RequestError):
            """Answer a refusal; the body, if any is left, is drained when small
            (so the client reads the answer rather than a reset) and the
            connection closed."""
            self._discard_body()
            self._json(error.status, {"error": str(error)}, close=True)

        def _expects_continue(self) -> bool:
            """True when the client waits for "100 Continue" before its body
            (curl does for uploads over 1 kB)."""
            return (
                self.headers.get("Expect", "").strip().lower() == "100-continue"
                and self.request_version == "HTTP/1.1"
            )

        def _discard_body(self):
            text = self.headers.get("Content-Length", "").strip()
            if (
                self.command != "POST"
                or getattr(self, "_body_read", False)
                or self._expects_continue()
                or self.headers.get("Transfer-Encoding")
                or not text.isdigit()
                or int(text) > service.max_upload_bytes
            ):
                return
            try:
                self._read_exactly(int(text), keep=False)
            except (RequestError, OSError):
                pass

        def _check_origin(self):
            """Refuse a Host this server does not answer to, and cross-origin
            requests (RequestError 403)."""
            host = self.headers.get("Host")
            if not host:
                raise RequestError(
                    HTTPStatus.FORBIDDEN,
                    "the request has no Host header; this server answers requests "
                    f"for {sorted(policy['allowed_hosts'])} only.",
                )
            name, port = _split_host(host)
            if name not in policy["allowed_hosts"]:
                raise RequestError(
                    HTTPStatus.FORBIDDEN,
                    f"Host {host!r} is not a name this server answers to "
                    f"({', '.join(sorted(policy['allowed_hosts']))}); start it with "
                    f"--allow-host {name} to accept it.",
                )
            origin = self.headers.get("Origin")
            if origin is not None:
                parsed = urlparse(origin.strip())
                try:
                    origin_port = parsed.port or 80
                except ValueError:
                    origin_port = -1
                same = (
                    parsed.scheme == "http"
                    and (parsed.hostname or "") == name
                    and origin_port == (port or 80)
                )
                if not same:
                    raise RequestError(
                        HTTPStatus.FORBIDDEN,
                        f"cross-origin request (Origin {origin!r}, Host {host!r}) "
                        "refused: this server accepts requests from its own page "
                        "only.",
                    )
            elif self.headers.get("Sec-Fetch-Site", "").lower() in (
                "cross-site",
                "same-site",
            ):
                raise RequestError(
                    HTTPStatus.FORBIDDEN,
                    "cross-origin request (Sec-Fetch-Site: "
                    f"{self.headers['Sec-Fetch-Site']}) refused: this server "
                    "accepts requests from its own page only.",
                )

        def do_GET(self):
            try:
                self._check_origin()
            except RequestError as error:
                self._refuse(error)
                return
            path = urlparse(self.path).path
            if path == "/":
                self._send(
                    HTTPStatus.OK,
                    render_page(service).encode(),
                    "text/html; charset=utf-8",
                )
            elif path == "/api/model":
                self._json(HTTPStatus.OK, service.model_json())
            elif path == "/health":
                self._send(HTTPStatus.OK, b"ok", "text/plain")
            elif path == "/report.md":
                report = Path(service.card["report"])
                text = report.read_bytes() if report.is_file() else b"no report.md"
                self._send(HTTPStatus.OK, text, "text/plain; charset=utf-8")
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

        def do_POST(self):
            try:
                self._check_origin()
                url = urlparse(self.path)
                if url.path != "/api/predict":
                    raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {url.path}")
                query = parse_qs(url.query)
                name = _upload_name((query.get("name") or [""])[0])
                length = self._content_length()
                limit = service.max_upload_bytes
                if length > limit:
                    self._refuse_large(name, length, limit)
                    return
                if self._expects_continue():
                    # Only now, with the headers accepted, is the body asked for.
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.wfile.flush()
                content = self._read_exactly(length)
                channel_map = (query.get("channel_map") or [""])[0]
                method = (query.get("method") or [""])[0]
                content_type = self.headers.get("Content-Type", "")
                if content_type.lower().startswith("multipart/"):
                    content, filename, fields = parse_multipart(content_type, content)
                    name = _upload_name(fields.get("name") or filename or name)
                    channel_map = fields.get("channel_map", channel_map)
                    method = fields.get("method", method)
            except RequestError as error:
                self._refuse(error)
                return
            try:
                status, answer = service.predict(content, name, channel_map, method)
            except Exception as error:  # noqa: BLE001 (the server must keep serving)
                status, answer = (
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {
                        "error": f"{name}: the forecast failed "
                        f"({type(error).__name__}: {error})."
                    },
                )
            self._json(status, answer)

        def _content_length(self) -> int:
            """The request's Content-Length, validated (RequestError 400/411)."""
            if self.headers.get("Transfer-Encoding"):
                raise RequestError(
                    HTTPStatus.LENGTH_REQUIRED,
                    f"Transfer-Encoding {self.headers['Transfer-Encoding']!r} is not "
                    "accepted: send the upload with a Content-Length.",
                )
            given = self.headers.get_all("Content-Length") or []
            if not given:
                raise RequestError(
                    HTTPStatus.LENGTH_REQUIRED, "the upload has no Content-Length."
                )
            if len(set(given)) > 1:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"Content-Length given {len(given)} times with different values "
                    f"{given}.",
                )
            text = given[0].strip()
            if not text.isdigit() or len(text) > 18:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"Content-Length {given[0]!r} is not a byte count (expected a "
                    "whole number >= 0).",
                )
            length = int(text)
            if length == 0:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    "Content-Length 0: the upload is empty (send the file as the "
                    "body, or as multipart/form-data).",
                )
            return length

        def _read_exactly(self, length: int, keep: bool = True) -> bytes:
            """Read `length` body bytes within the time limits (RequestError
            400 when the client closes early, 408 when it stops sending); with
            `keep=False` they are read away and b"" returned."""
            self._body_read = True
            started = time.monotonic()
            deadline = started + max(
                policy["request_timeout_s"], length / _MIN_BODY_RATE
            )
            chunks, remaining = [], length
            try:
                while remaining > 0:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    chunk = self.rfile.read1(min(remaining, 2**16))
                    if not chunk:
                        raise RequestError(
                            HTTPStatus.BAD_REQUEST,
                            f"the body is shorter than its Content-Length: "
                            f"{length - remaining} of {length} bytes arrived before "
                            "the client stopped sending.",
                        )
                    if keep:
                        chunks.append(chunk)
                    remaining -= len(chunk)
            except TimeoutError:
                raise RequestError(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the body stopped arriving: {length - remaining} of {length} "
                    f"bytes (Content-Length) in {time.monotonic() - started:.1f} s.",
                ) from None
            return b"".join(chunks)

        def _refuse_large(self, name: str, length: int, limit: int):
            if length <= _DRAIN_FACTOR * limit and not self._expects_continue():
                # Read the body away, so that the browser sees the answer rather
                # than a connection reset in the middle of its upload.
                try:
                    self._read_exactly(length, keep=False)
                except RequestError:
                    pass
            self._json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {
                    "error": f"{name} is {length / 2**20:.1f} MiB; uploads are "
                    f"limited to {limit / 2**20:.1f} MiB (flarekit serve "
                    "--max-upload-mb)."
                },
                close=True,
            )

    return Handler


class BoundedHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that handles at most `max_concurrent` requests
    at once and answers 503 to the next connections, from the accepting thread,
    without starting a thread for them.

    Attributes:
        active_requests: requests being handled now.
        refused_busy: connections answered 503 so far.
    """

    daemon_threads = True

    def __init__(self, address, handler, max_concurrent: int):
        if int(max_concurrent) < 1:
            raise ValueError(
                f"max_concurrent must be 1 or more, got {max_concurrent!r}."
            )
        self.max_concurrent = int(max_concurrent)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._count_lock = threading.Lock()
        self.active_requests = 0
        self.refused_busy = 0
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.refused_busy += 1
            self._answer_busy(request)
            self.shutdown_request(request)
            return
        with self._count_lock:
            self.active_requests += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self):
        with self._count_lock:
            self.active_requests -= 1
        self._slots.release()

    def _answer_busy(self, request):
        body = json.dumps(
            {
                "error": f"the server is busy: {self.max_concurrent} requests are "
                "being handled (flarekit serve --max-concurrent); retry in a moment."
            }
        ).encode()
        head = (
            "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            # Take what the client has already sent (its request line and
            # headers), briefly, so that closing does not reset the connection
            # before the client reads the answer.
            request.settimeout(0.2)
            try:
                request.recv(2**16)
            except OSError:
                pass
            request.sendall(head + body)
        except OSError:
            pass


def allowed_host_names(host: str, extra=()) -> set:
    """Host names the server answers to: the bound address (with `localhost`
    for loopback) and `extra` names (`--allow-host`)."""
    names = {_split_host(name)[0] for name in extra if name}
    bound = host.strip("[]").lower()
    if bound in ("", "0.0.0.0", "::"):
        names.update(_LOOPBACK_NAMES)
    elif bound in _LOOPBACK_NAMES or bound.startswith("127.") or bound == "::1":
        names.update(_LOOPBACK_NAMES)
        names.add(bound)
    else:
        names.add(bound)
    return names


def start_server(
    run_dir,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    forecaster=None,
    allowed_hosts=(),
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_nonfinite_fraction: float | None = None,
):
    """Load the run and serve the page from a background thread.

    Args:
        run_dir: a finished run folder.
        host: address to bind (127.0.0.1: this machine only).
        port: TCP port; 0 picks a free one (see `server.server_address`).
        max_upload_bytes: largest upload accepted.
        forecaster: an already loaded `Forecaster` (loads `run_dir` when None).
        allowed_hosts: Host names accepted besides the bound address's.
        max_concurrent: requests handled at once; more get 503.
        request_timeout_s: socket timeout of every read from a client.
        max_nonfinite_fraction: see `ForecastService` (None: the default 5 %).

    Returns:
        (server, thread); stop with `server.shutdown(); server.server_close()`.
    """
    from flarekit.serving.predict import Forecaster

    forecaster = forecaster or Forecaster.load(run_dir)
    service = ForecastService(forecaster, max_upload_bytes, max_nonfinite_fraction)
    policy = {
        "allowed_hosts": allowed_host_names(host, allowed_hosts),
        "request_timeout_s": float(request_timeout_s),
    }
    server = BoundedHTTPServer(
        (host, int(port)), _handler_class(service, policy), max_concurrent
    )
    server.service = service
    server.policy = policy
    thread = threading.Thread(
        target=server.serve_forever, name="flarekit-serve", daemon=True
    )
    thread.start()
    return server, thread


def serve(
    run_dir,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    allowed_hosts=(),
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_nonfinite_fraction: float | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C); arguments as `start_server`'s."""
    server, thread = start_server(
        run_dir,
        host,
        port,
        max_upload_bytes,
        allowed_hosts=allowed_hosts,
        max_concurrent=max_concurrent,
        request_timeout_s=request_timeout_s,
        max_nonfinite_fraction=max_nonfinite_fraction,
    )
    address, bound = server.server_address[:2]
    print(
        f"flarekit serve: forecasts of {run_dir} at http://{address}:{bound}/ "
        f"(Ctrl-C stops); answering Host "
        f"{', '.join(sorted(server.policy['allowed_hosts']))}",
        flush=True,
    )
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ page ---


def _card_html(card: dict) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in card["rows"]
    )
    scores = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in card["scores"]
    )
    caveats = "".join(f"<li>{html.escape(c)}</li>" for c in card["caveats"])
    return (
        f"<table class='card'>{rows}</table>"
        f"<h3>Test scores <small>(95 % region-bootstrap intervals)</small></h3>"
        f"<table class='card' id='scores'>{scores}</table>"
        + (f"<ul class='caveats'>{caveats}</ul>" if caveats else "")
        + "<p><a href='/report.md'>full report.md</a></p>"
    )


def render_page(service: ForecastService) -> str:
    """The whole page: model card and upload form (server-rendered), forecast (JS)."""
    card = service.card
    chosen = default_method(service.methods)
    methods = "".join(
        f"<option value='{m}'{' selected' if m == chosen else ''}>"
        f"{html.escape(m.replace('_', ' '))}</option>"
        for m in service.methods
    )
    channels = ", ".join(service.forecaster.channels)
    example = ",".join(
        f"{c}={'0' if i == 0 else 'mean'}"
        for i, c in enumerate(service.forecaster.channels)
    )
    height, width, depth = service.forecaster.input_shape
    return PAGE.format(
        title=html.escape(card["title"]),
        card=_card_html(card),
        methods=methods,
        channels=html.escape(channels),
        depth=depth,
        size=f"{height}x{width}",
        example=html.escape(example),
        limit=f"{service.max_upload_bytes / 2**20:.1f}",
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>flarekit forecast: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7;
  color: #1d2433; }}
header {{ background: #1d2433; color: #fff; padding: 12px 24px; }}
header h1 {{ margin: 0; font-size: 20px; }} header p {{ margin: 4px 0 0; opacity: .8; }}
main {{ display: flex; gap: 20px; padding: 20px; flex-wrap: wrap; }}
section {{ background: #fff; border-radius: 8px; padding: 16px 20px;
  box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
#forecast {{ flex: 1 1 560px; }} #model {{ flex: 0 1 460px; }}
h2 {{ margin-top: 0; font-size: 17px; }} h3 {{ font-size: 15px; margin-bottom: 4px; }}
table.card {{ border-collapse: collapse; font-size: 13px; width: 100%; }}
table.card th {{ text-align: left; padding: 3px 8px 3px 0; color: #555;
  font-weight: 600;
  white-space: nowrap; vertical-align: top; }}
table.card td {{ padding: 3px 0; }}
.caveats {{ font-size: 13px; color: #8a4b00; padding-left: 18px; }}
label {{ display: block; font-size: 13px; margin: 8px 0 3px; color: #444; }}
input[type=text] {{ width: 100%; box-sizing: border-box; padding: 6px; line-height: 1.5;
  font-family: monospace; font-size: 13px; }}
button {{ margin-top: 12px; padding: 8px 18px; font-size: 15px; background: #2a5bd7;
  color: #fff; border: 0; border-radius: 5px; cursor: pointer; }}
.hint {{ font-size: 12px; color: #666; }}
#error {{ display: none; background: #fde8e8; color: #9b1c1c; border: 1px solid #f5b5b5;
  padding: 10px; border-radius: 5px; margin-top: 12px; }}
#result {{ display: none; margin-top: 14px; }}
#probability {{ font-size: 44px; font-weight: 700; }}
.badge {{ display: inline-block; padding: 4px 10px; border-radius: 12px;
  font-weight: 600;
  margin-left: 12px; vertical-align: middle; }}
.yes {{ background: #fde2e1; color: #a4161a; }}
.no {{ background: #dff3e4; color: #1b6b34; }}
.images {{ display: flex; gap: 16px; margin-top: 10px; }}
.images figure {{ margin: 0; text-align: center; font-size: 12px; color: #555; }}
.images img {{ width: 256px; height: 256px; image-rendering: pixelated;
  border: 1px solid #ccc; }}
#warnings {{ font-size: 13px; color: #8a4b00; padding-left: 18px; }}
#timing {{ font-size: 13px; color: #444; }}
</style></head>
<body>
<header><h1>flarekit live forecast</h1><p>{title}</p></header>
<main>
<section id="forecast">
<h2>Forecast from an image</h2>
<form id="upload" method="post" action="/api/predict"
  enctype="multipart/form-data">
<label for="file">FITS, JPEG 2000, PNG, JPEG or .npy file</label>
<input type="file" id="file" name="file" required
  accept=".fits,.fts,.fit,.gz,.jp2,.png,.jpg,.jpeg,.npy">
<p class="hint">The model takes {depth} channel(s) ({channels}) at {size} pixels;
images are resampled. Uploads up to {limit} MiB.</p>
<label for="channel_map">Channel map (needed when the file has other channels than
the model)</label>
<input type="text" id="channel_map" name="channel_map" placeholder="{example}">
<p class="hint">NAME=SOURCE for every model channel; SOURCE is a 0-based channel of the
file, <code>mean</code> (training mean) or <code>zero</code>.</p>
<label for="method">Saliency</label>
<select id="method" name="method">{methods}</select>
<br><button type="submit" id="submit">Forecast</button>
</form>
<div id="error" role="alert"></div>
<div id="result">
<div><span id="probability"></span><span id="class" class="badge"></span></div>
<div id="threshold" class="hint"></div>
<div class="images">
<figure><img id="input" alt="input">
<figcaption id="input_caption">input</figcaption></figure>
<figure><img id="overlay" alt="saliency overlay">
<figcaption id="overlay_caption">saliency</figcaption></figure>
</div>
<ul id="warnings"></ul>
<div id="timing"></div>
</div>
</section>
<section id="model"><h2>Model card</h2>{card}</section>
</main>
<script>
const form = document.getElementById("upload");
const show = (id, on) =>
  document.getElementById(id).style.display = on ? "block" : "none";
form.addEventListener("submit", async (event) => {{
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) return;
  show("error", false); show("result", false);
  const button = document.getElementById("submit");
  button.disabled = true; button.textContent = "Forecasting...";
  const query = new URLSearchParams({{name: file.name,
    channel_map: document.getElementById("channel_map").value,
    method: document.getElementById("method").value}});
  const started = performance.now();
  try {{
    const response = await fetch("/api/predict?" + query,
                                 {{method: "POST", body: file}});
    const answer = await response.json();
    const elapsed = performance.now() - started;
    if (!response.ok) throw new Error(answer.error || response.statusText);
    const p = answer.probability;
    document.getElementById("probability").textContent =
      (p === null ? "n/a" : "P = " + p.toFixed(3));
    const badge = document.getElementById("class");
    badge.textContent = answer["class"];
    badge.className = "badge " + (answer["class"].startsWith("flare") ? "yes" : "no");
    document.getElementById("threshold").textContent = "decision threshold: " +
      (typeof answer.threshold === "number" ? answer.threshold.toFixed(4)
                                            : answer.threshold);
    document.getElementById("input").src = answer.input_png;
    document.getElementById("overlay").src = answer.overlay_png;
    document.getElementById("input_caption").textContent = answer.channel_shown;
    document.getElementById("overlay_caption").textContent =
      answer.method.replace(/_/g, " ") + " over " + answer.channel_shown;
    const list = document.getElementById("warnings");
    list.innerHTML = "";
    for (const w of answer.warnings) {{
      const item = document.createElement("li");
      item.textContent = w;
      list.appendChild(item);
    }}
    const timing = document.getElementById("timing");
    timing.textContent = "forecast " + answer.forecast_ms.toFixed(0) +
      " ms, saliency " +
      answer.saliency_ms.toFixed(0) + " ms (server); page round trip " +
      elapsed.toFixed(0) + " ms";
    timing.dataset.roundTripMs = elapsed.toFixed(1);
    timing.dataset.forecastMs = answer.forecast_ms.toFixed(1);
    show("result", true);
  }} catch (error) {{
    const box = document.getElementById("error");
    box.textContent = error.message.startsWith("Failed to fetch") ?
      "The upload did not reach the server (is it too large, or is the server down?)." :
      error.message;
    show("error", true);
  }} finally {{
    button.disabled = false; button.textContent = "Forecast";
  }}
}});
</script>
</body></html>
"""
