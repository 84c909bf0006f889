"""The rendered video plays to the end in a browser: headless Chromium, a ``<video>`` element.

Slow (starts a browser): ``pytest -m slow tests/inference/test_video_browser.py``. Needs the Debian
package ``chromium`` (``/usr/bin/chromium``); skipped without it. Chromium is driven over the
DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages ending in NUL on file
descriptors 3 and 4), so nothing but the standard library is needed.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from finetrack.inference.video import VideoWriter

CHROMIUM = Path("/usr/bin/chromium")
N_FRAMES, FPS = 25, 10

PAGE = """<!doctype html><html><body>
<video id="v" src="%s" muted autoplay playsinline></video>
<pre id="r">pending</pre>
<script>
const v = document.getElementById('v'), r = document.getElementById('r');
v.addEventListener('ended', () => {
  r.textContent = 'ended ' + v.currentTime.toFixed(3) + ' ' + v.duration.toFixed(3) + ' '
    + v.videoWidth + 'x' + v.videoHeight; });
v.addEventListener('error', () => { r.textContent = 'error ' + (v.error && v.error.code); });
v.play().catch(e => { r.textContent = 'play-rejected ' + e; });
</script></body></html>"""


class _DevTools:
    """Chromium's DevTools protocol over ``--remote-debugging-pipe``."""

    def __init__(self, user_dir: Path):
        self._to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, self._from_chrome_w = os.pipe()

        def fds():  # the child reads commands on fd 3 and writes replies on fd 4
            os.dup2(self._to_chrome_r, 3)
            os.dup2(self._from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files",
             f"--user-data-dir={user_dir}", "--remote-debugging-pipe"],
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(self._to_chrome_r)
        os.close(self._from_chrome_w)
        self._buf = b""
        self._id = 0

    def call(self, method: str, session: str = None, timeout: float = 30.0, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            ready, _, _ = select.select([self._from_chrome_r], [], [], 0.5)
            if ready:
                chunk = os.read(self._from_chrome_r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
        raise TimeoutError(method)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._to_chrome_w)
        os.close(self._from_chrome_r)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs headless Chromium at /usr/bin/chromium "
                    "(Debian: apt-get install chromium)")
def test_rendered_video_plays_to_the_end_in_chromium(tmp_path):
    w = VideoWriter(tmp_path / "tracked.mp4", FPS)
    for f in range(1, N_FRAMES + 1):
        img = np.full((120, 160, 3), 20 * (f % 10), np.uint8)
        w(f, img, SimpleNamespace(ids=np.array([3, 12]),
                                  xyxy=np.array([[10 + f, 20, 40 + f, 100], [90, 10, 130, 90.]])))
    video = w.close()
    assert video.suffix == ".mp4" and w.codec == "h264"
    page = tmp_path / "page.html"
    page.write_text(PAGE % video.name)
    dt = _DevTools(tmp_path / "profile")
    try:
        target = dt.call("Target.createTarget", url=page.as_uri())["targetId"]
        session = dt.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        state, end = "pending", time.monotonic() + 60
        while state == "pending" and time.monotonic() < end:
            time.sleep(0.5)
            res = dt.call("Runtime.evaluate", session,
                          expression="document.getElementById('r').textContent")
            state = res["result"]["value"]
    finally:
        dt.close()
    parts = state.split()
    assert parts[0] == "ended", state  # not "error 4" (codec not supported) nor still pending
    current, duration = float(parts[1]), float(parts[2])
    assert abs(duration - N_FRAMES / FPS) < 0.15 and abs(current - duration) < 1e-3
    assert parts[3] == "160x120"
