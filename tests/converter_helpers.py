"""Helpers of the converter tests: running the CLI, and a local HTTP server with Range."""

import contextlib
import http.server
import os
import pathlib
import re
import subprocess
import sys
import threading

REPO = pathlib.Path(__file__).resolve().parents[1]


def cli_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_c3d(*args, timeout=600, env=None, cwd=REPO):
    """``python -m c3d ARGS`` in a child process, output captured as text.

    ``env``: variables to set (a value None removes one); ``cwd``: its working directory.
    """
    child_env = cli_env()
    for name, value in (env or {}).items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = str(value)
    return subprocess.run(
        [sys.executable, "-m", "c3d", *map(str, args)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=timeout,
        cwd=cwd,
    )


def error_lines(result):
    """The ``c3d CMD: error: …`` lines a failed command wrote on stderr."""
    return [line for line in result.stderr.splitlines() if re.match(r"c3d [\w-]+: error: ", line)]


def assert_one_line_error(result, *fragments):
    """Exit status non-zero, exactly one error line naming every fragment, no traceback."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert str(fragment) in lines[0], lines[0]
    return lines[0]


def no_output_left(folder, name):
    """Neither ``name`` nor a temporary file is in ``folder``."""
    names = os.listdir(folder)
    return name not in names and not any(n.startswith(".tmp-") for n in names)


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "c3d-test"
    timeout = 30  # a stuck client cannot hold the server thread for long

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        source = server.files.get(self.path.split("?")[0])
        if source is None:
            self.send_error(404)
            return
        size = os.path.getsize(source)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not server.ignore_range:
            start = int(match.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", server.content_type)
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        limit = server.cut_after.pop(0) if server.cut_after else None
        sent = 0
        with open(source, "rb") as file:
            file.seek(start)
            while chunk := file.read(1 << 20):
                if limit is not None and sent + len(chunk) > limit:
                    self.wfile.write(chunk[: limit - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    return  # the connection closes short of Content-Length
                self.wfile.write(chunk)
                sent += len(chunk)


@contextlib.contextmanager
def file_server(files, cut_after=(), ignore_range=False, content_type="application/octet-stream"):
    """Serve ``files`` ({url path: file path}) on 127.0.0.1 from a thread; yields the server.

    ``cut_after``: for the first requests, close the connection after that many body
    bytes. ``ignore_range``: answer 200 with the whole file to Range requests.
    ``server.requests`` lists (path, Range header) per request; ``server.url(path)``.
    The server stops when the block ends.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.files = {k: os.fspath(v) for k, v in files.items()}
    server.cut_after = list(cut_after)
    server.ignore_range = ignore_range
    server.content_type = content_type
    server.requests = []
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def unused_port_url(path="/model"):
    """A URL on 127.0.0.1 where nothing listens (the port is bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
