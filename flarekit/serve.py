"""A web page for live forecasts: `flarekit serve --run RUN`.

Standard library only (`http.server`): the page at `/` has the model card of
the run (settings, scores with intervals, caveats, from config.json and
metrics.json) and an upload form; an uploaded FITS / JP2 / PNG / JPEG / .npy
file goes to `POST /api/predict` as the request body and comes back as the
forecast probability, class, decision threshold, warnings, timings, and the
input with its saliency map laid over it (`flarekit.interpret`).

Everything a file can get wrong (not an image, a shape or channel count the
model cannot take, too large) is answered with HTTP 400 / 413 and a message
the page shows; the request thread ends and the server keeps serving. The
model is called under a lock, so concurrent uploads are safe.

It binds 127.0.0.1 by default: a forecast service for one user's machine, not
a hardened public server (no authentication, no TLS).

Routes:
    GET  /                 the page
    GET  /api/model        the model card as JSON
    GET  /report.md        the run's report, as text
    GET  /health           "ok"
    POST /api/predict?name=FILE&channel_map=MAP&method=METHOD   (body: the file)

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


class ForecastService:
    """The state behind the page: the forecaster, its card, the upload limit.

    Args:
        forecaster: a `flarekit.predict.Forecaster`.
        max_upload_bytes: largest upload accepted.
    """

    def __init__(self, forecaster, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES):
        from flarekit import interpret

        self.forecaster = forecaster
        self.max_upload_bytes = int(max_upload_bytes)
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
            name, channel_map or None, content=content, name=name
        )
        if row["error"]:
            return HTTPStatus.BAD_REQUEST, {"error": row["error"]}
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
            "channels": list(self.forecaster.channels),
            "input_shape": list(self.forecaster.input_shape),
        }


def _handler_class(service: ForecastService):
    class Handler(BaseHTTPRequestHandler):
        server_version = "flarekit"

        def log_message(self, format, *args):
            sys.stderr.write(
                f"flarekit serve: {self.address_string()} {format % args}\n"
            )

        def _send(self, status, body: bytes, content_type: str, close: bool = False):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status, answer: dict, close: bool = False):
            body = json.dumps(json_safe(answer), allow_nan=False).encode()
            self._send(status, body, "application/json", close)

        def do_GET(self):
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
            url = urlparse(self.path)
            if url.path != "/api/predict":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {url.path}"})
                return
            query = parse_qs(url.query)
            name = (query.get("name") or ["upload"])[0][:200] or "upload"
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._json(
                    HTTPStatus.LENGTH_REQUIRED,
                    {"error": "the upload has no Content-Length."},
                    close=True,
                )
                return
            limit = service.max_upload_bytes
            if length > limit:
                self._refuse_large(name, length, limit)
                return
            content = self.rfile.read(length)
            try:
                status, answer = service.predict(
                    content,
                    name,
                    (query.get("channel_map") or [""])[0],
                    (query.get("method") or [""])[0],
                )
            except Exception as error:  # the server must keep serving
                status, answer = (
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {
                        "error": f"{name}: the forecast failed "
                        f"({type(error).__name__}: {error})."
                    },
                )
            self._json(status, answer)

        def _refuse_large(self, name: str, length: int, limit: int):
            close = length > _DRAIN_FACTOR * limit
            if not close:
                # Read the body away, so that the browser sees the answer rather
                # than a connection reset in the middle of its upload.
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 2**16))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self._json(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {
                    "error": f"{name} is {length / 2**20:.1f} MiB; uploads are "
                    f"limited to {limit / 2**20:.1f} MiB (flarekit serve "
                    "--max-upload-mb)."
                },
                close=close,
            )

    return Handler


def start_server(
    run_dir,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    forecaster=None,
):
    """Load the run and serve the page from a background thread.

    Args:
        run_dir: a finished run folder.
        host: address to bind (127.0.0.1: this machine only).
        port: TCP port; 0 picks a free one (see `server.server_address`).
        max_upload_bytes: largest upload accepted.
        forecaster: an already loaded `Forecaster` (loads `run_dir` when None).

    Returns:
        (server, thread); stop with `server.shutdown(); server.server_close()`.
    """
    from flarekit.predict import Forecaster

    forecaster = forecaster or Forecaster.load(run_dir)
    service = ForecastService(forecaster, max_upload_bytes)
    server = ThreadingHTTPServer((host, int(port)), _handler_class(service))
    server.daemon_threads = True
    server.service = service
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
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server, thread = start_server(run_dir, host, port, max_upload_bytes)
    address, bound = server.server_address[:2]
    print(
        f"flarekit serve: forecasts of {run_dir} at http://{address}:{bound}/ "
        "(Ctrl-C stops)",
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
<form id="upload">
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
