"""`flarekit serve` against hostile requests: each is answered with the right
status and a reason, in bounded time, without a handler thread left blocked or
the memory growing by more than 300 MB; a valid forecast follows each one. The
server binds 127.0.0.1 only; every client socket has a timeout."""

import importlib.util
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from flarekit.serving.predict import Forecaster
from flarekit.serving.serve import parse_multipart, start_server

HERE = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "bad_input_corpus_serving", HERE / "bad_input" / "corpus_serving.py"
)
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

REQUEST_TIMEOUT_S = 1.0
MAX_CONCURRENT = 3
MAX_UPLOAD_BYTES = 2**20
MEMORY_BUDGET_MB = 300


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus.write_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    run = corpus.write_tiny_run(tmp_path_factory.mktemp("runs"))
    server, _ = start_server(
        run,
        host="127.0.0.1",
        port=0,
        max_upload_bytes=MAX_UPLOAD_BYTES,
        forecaster=Forecaster.load(run),
        max_concurrent=MAX_CONCURRENT,
        request_timeout_s=REQUEST_TIMEOUT_S,
    )
    yield server
    server.shutdown()
    server.server_close()


class Answer:
    def __init__(self, raw: bytes, seconds: float):
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        # Skip interim answers (100 Continue).
        while lines and lines[0].split(" ")[1:2] == ["100"]:
            head, _, body = body.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1]) if lines and lines[0] else 0
        self.body = body
        self.seconds = seconds

    def json(self) -> dict:
        return json.loads(self.body)


def exchange(port, raw: bytes, close_write: bool = False, timeout: float = 15.0):
    """Send raw bytes to the server, read its answer until it closes."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(2**16)
            if not chunk:
                break
            chunks.append(chunk)
    return Answer(b"".join(chunks), time.perf_counter() - started)


def request(port, method, path, body=b"", headers=None, host=None, length=None):
    """One HTTP/1.1 request, Connection: close; `length` overrides Content-Length."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Connection: close",
    ]
    if method == "POST":
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post_file(port, path, **options):
    return exchange(
        port,
        request(
            port,
            "POST",
            f"/api/predict?name={Path(path).name}",
            Path(path).read_bytes(),
            **options,
        ),
    )


def multipart(fields: dict, filename: str, content: bytes, boundary="xYzZY42"):
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        f"{value}\r\n".encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


class PeakMemory:
    """Peak resident memory of this process while the block runs, in MB: the
    kernel's high-water mark reset at the start (/proc/self/clear_refs), or,
    where that is not allowed, samples taken every 2 ms."""

    def __enter__(self):
        self.start = self._status("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.exact = self._status("VmHWM") <= self.start + 1
        except OSError:
            self.exact = False
        self.sampled, self._stop = self.start, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.sampled = max(self.sampled, self._status("VmRSS"))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = self._status("VmHWM") if self.exact else self.sampled

    @staticmethod
    def _status(field: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"/proc/self/status has no {field}")


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def handler_threads() -> list:
    return [t for t in threading.enumerate() if "process_request" in t.name]


def test_hostile_requests_then_valid_ones(server, files):
    port = server.server_address[1]
    good = files["good_npy"]
    first = post_file(port, good)  # warms the model up before memory is measured
    assert first.status == 200, first.body
    expected = first.json()["probability"]

    def still_serving():
        answer = post_file(port, good)
        assert answer.status == 200, answer.body
        assert answer.json()["probability"] == pytest.approx(expected, abs=1e-6)

    body, boundary = multipart(
        {"channel_map": "euv_171=0"}, "good_disk.npy", good.read_bytes()
    )
    multipart_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    cases = [
        # (what, the request: a file to upload, raw bytes, or (raw bytes, True)
        # to close the write side after them; status; words in the error)
        ("PNG bomb", files["png_bomb"], 400, "PNG header (image size)"),
        ("596 GiB .npy header", files["npy_596_gib"], 400, ".npy header"),
        ("JP2 broken XML box", files["jp2_broken_xml"], 400, "JP2 XML box"),
        ("140 kB .fits.gz bomb", files["fits_gz_bomb"], 400, "NAXIS1 = 12000"),
        ("complex .npy", files["npy_complex"], 400, "complex"),
        ("one finite pixel", files["fits_one_finite_pixel"], 400, "99.7% of the"),
        (
            "Content-Length -1",
            request(port, "POST", "/api/predict", b"x" * 10, length="-1"),
            400,
            "Content-Length '-1' is not a byte count",
        ),
        (
            "Content-Length not a number",
            request(port, "POST", "/api/predict", b"x", length="1e3"),
            400,
            "Content-Length '1e3'",
        ),
        (
            "chunked body",
            request(
                port,
                "POST",
                "/api/predict",
                b"",
                headers={"Transfer-Encoding": "chunked"},
            ).replace(b"Content-Length: 0\r\n", b"")
            + b"5\r\nhello\r\n0\r\n\r\n",
            411,
            "Transfer-Encoding",
        ),
        (
            "body shorter than Content-Length, client waiting",
            request(port, "POST", "/api/predict", b"x" * 100, length=5000),
            408,
            "the body stopped arriving: 100 of 5000 bytes",
        ),
        (
            "body shorter than Content-Length, client done",
            (request(port, "POST", "/api/predict", b"x" * 100, length=5000), True),
            400,
            "shorter than its Content-Length: 100 of 5000",
        ),
        (
            "upload over the limit",
            request(port, "POST", "/api/predict", b"", length=MAX_UPLOAD_BYTES + 1),
            413,
            "uploads are limited to 1.0 MiB",
        ),
        (
            "spoofed Host reads the model card (DNS rebinding)",
            request(port, "GET", "/api/model", host=f"attacker.example:{port}"),
            403,
            "Host 'attacker.example",
        ),
        (
            "no Host header",
            b"GET /api/model HTTP/1.0\r\n\r\n",
            403,
            "no Host header",
        ),
        (
            "cross-origin POST",
            request(
                port,
                "POST",
                "/api/predict?name=good_disk.npy",
                good.read_bytes(),
                headers={"Origin": "http://evil.example"},
            ),
            403,
            "cross-origin request (Origin 'http://evil.example'",
        ),
        (
            "cross-site fetch without Origin",
            request(
                port, "GET", "/api/model", headers={"Sec-Fetch-Site": "cross-site"}
            ),
            403,
            "Sec-Fetch-Site: cross-site",
        ),
        (
            "multipart without a file part",
            request(
                port,
                "POST",
                "/api/predict",
                multipart({"method": "grad_cam"}, "x", b"")[0]
                .replace(b'name="file"', b'name="other"')
                .replace(b'; filename="x"', b""),
                headers=multipart_type,
            ),
            400,
            "no file part",
        ),
    ]
    served = server.service.served
    with PeakMemory() as memory:
        for what, sent, status, words in cases:
            close_write = False
            if isinstance(sent, tuple):
                sent, close_write = sent
            if isinstance(sent, Path):
                sent = request(
                    port, "POST", f"/api/predict?name={sent.name}", sent.read_bytes()
                )
            answer = exchange(port, sent, close_write=close_write)
            assert answer.status == status, (what, answer.status, answer.body)
            assert words in answer.json()["error"], (what, answer.json())
            # Bounded: nothing waits longer than the socket timeout (+ slack
            # for a loaded machine).
            assert answer.seconds < REQUEST_TIMEOUT_S + 4, (what, answer.seconds)
            still_serving()
            served += 1
        # The refused cross-origin POST was not forecast: only the valid ones were.
        assert server.service.served == served
        # A standard multipart upload, as a browser form or curl -F sends it.
        answer = exchange(
            port,
            request(port, "POST", "/api/predict", body, headers=multipart_type),
        )
        assert answer.status == 200, answer.body
        assert answer.json()["name"] == "good_disk.npy"
        assert answer.json()["probability"] == pytest.approx(expected, abs=1e-6)
        # Every handler thread has ended: none is left blocked on a socket.
        assert wait_for(lambda: server.active_requests == 0, REQUEST_TIMEOUT_S + 2)
        assert wait_for(lambda: not handler_threads(), 2), handler_threads()
    growth = memory.peak - memory.start
    print(
        f"memory: start {memory.start:.0f} MB, peak {memory.peak:.0f} MB "
        f"({'high-water mark' if memory.exact else 'sampled'})"
    )
    assert growth < MEMORY_BUDGET_MB, (memory.start, memory.peak)


def test_full_server_answers_503_then_recovers(server, files):
    port = server.server_address[1]
    idle = [
        socket.create_connection(("127.0.0.1", port), timeout=10)
        for _ in range(MAX_CONCURRENT)
    ]
    try:
        assert wait_for(lambda: server.active_requests == MAX_CONCURRENT, 3)
        busy = exchange(port, request(port, "GET", "/health"))
        assert busy.status == 503, busy.body
        assert "--max-concurrent" in busy.json()["error"]
        assert busy.seconds < 2
        # The idle connections time out (408 is not sent: they sent nothing)
        # and free their places.
        assert wait_for(lambda: server.active_requests == 0, REQUEST_TIMEOUT_S + 3)
    finally:
        for sock in idle:
            sock.close()
    answer = post_file(port, files["good_npy"])
    assert answer.status == 200, answer.body
    assert server.refused_busy >= 1


def test_curl_form_upload(server, files):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip(
            "no curl on this machine (the multipart upload is also tested without it)"
        )
    port = server.server_address[1]
    started = time.perf_counter()
    result = subprocess.run(
        [
            curl,
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "-F",
            f"file=@{files['good_fits']}",
            "-F",
            "method=grad_cam",
            f"http://127.0.0.1:{port}/api/predict",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    seconds = time.perf_counter() - started
    answer = json.loads(result.stdout)
    assert answer["name"] == "good_disk.fits" and 0 <= answer["probability"] <= 1
    assert answer["method"] == "grad_cam"
    # curl asks for "100 Continue" before a body over 1 kB; answered at once,
    # not after curl's 1 s wait.
    assert seconds < 1.0 + 2, seconds


def test_parse_multipart_takes_the_file_part_and_the_fields():
    body, boundary = multipart(
        {"channel_map": "a=0", "method": "grad_cam"}, "dir/x.fits", b"\r\n--x\r\n"
    )
    content, name, fields = parse_multipart(
        f"multipart/form-data; boundary={boundary}", body
    )
    assert content == b"\r\n--x\r\n" and name == "x.fits"
    assert fields == {"channel_map": "a=0", "method": "grad_cam"}
    with pytest.raises(ValueError, match="no closing boundary"):
        parse_multipart(f"multipart/form-data; boundary={boundary}", body[:-20])
    with pytest.raises(ValueError, match="needs a boundary"):
        parse_multipart("multipart/form-data", body)
