"""One long-lived, network-less Chromium per process, driven over the DevTools protocol on a pipe.

`HOST` owns the browser.  A warm worker starts it once (`HOST.start("worker")`, from
`renderers.html.warm_up`) before it forks jobs; the one-shot sandbox child starts it in
`prepare(job)`, before the job's limits apply, and closes it after the job (`scope="job"`).

Why a pipe and not Playwright's client: a pool job is a forked child under seccomp (no new
processes, no sockets).  Playwright's client needs an asyncio loop (a socketpair) and a driver
process, and a connection inherited across fork breaks (measured: `TargetClosedError` in the
child).  Chromium's `--remote-debugging-pipe` (what Playwright itself uses underneath) is two
file descriptors that a forked child inherits and can use with plain reads and writes, so a job
only sends content and commands to the browser the worker started.  Stdlib only.

Per job: a fresh browser context and page (nothing carries over between jobs), every request
paused and either fulfilled from the job's own document and input files on a made-up origin
(`https://job.cocogen.invalid/`) or failed; network emulation offline; a proxy kill-switch
(all traffic, loopback included, to a closed port) and no site isolation, so that iframes'
requests are intercepted too.  JavaScript is off unless the job asks for it.  The screenshot is
`Page.captureScreenshot` with `optimizeForSpeed`; the layout comes from `_dom.DOM_SCRIPT`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import mimetypes
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from renderers._dom import DOM_SCRIPT
from renderers._fonts import FONT_CHAIN
from sandbox.wire import RenderError

ORIGIN = "https://job.cocogen.invalid/"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = (
    "--headless",
    "--remote-debugging-pipe",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-dev-shm-usage",
    "--disable-features=IsolateOrigins,site-per-process,Translate,MediaRouter,OptimizationHints",
    "--disable-site-isolation-trials",
    "--dns-prefetch-disable",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--mute-audio",
    "--hide-scrollbars",
    "--font-render-hinting=none",
    "--force-color-profile=srgb",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
LIMITS = {"texts": 5000, "boxes": 2000, "chars": 50000}
START_TIMEOUT_S = 30.0


def chromium_path() -> str | None:
    """Debian's Chromium (or `$COCOGEN_CHROMIUM`), else Playwright's own browser if installed."""
    override = os.environ.get("COCOGEN_CHROMIUM")
    if override:
        return override
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    for chrome in sorted(cache.glob("chromium-*/chrome-linux*/chrome"), reverse=True):
        return str(chrome)
    return None


class ProtocolError(Exception):
    """The browser answered a command with an error, or did not answer in time."""


class Pipe:
    """A DevTools connection over two file descriptors; messages end with a NUL byte."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.buffer = b""
        self.next_id = 1
        self.on_event: Callable[[dict[str, Any]], None] = lambda _message: None

    def drain(self) -> None:
        """Forget whatever an earlier job left unread (answers it no longer waits for)."""
        while select.select([self.read_fd], [], [], 0)[0]:
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise ProtocolError("the browser closed its pipe")
            self.buffer += chunk
        self.buffer = self.buffer[self.buffer.rfind(b"\0") + 1 :] if b"\0" in self.buffer else b""
        self.next_id = (os.getpid() % 1000) * 1_000_000 + self.next_id % 1_000_000

    def post(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.next_id += 1
        data = json.dumps(message).encode("utf-8") + b"\0"
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]
        return int(message["id"])

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str = "",
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        wanted = self.post(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if message is None:
                raise ProtocolError(f"{method}: no answer in {timeout:g} s")
            if message.get("id") == wanted:
                if "error" in message:
                    raise ProtocolError(f"{method}: {message['error'].get('message', '')}")
                result: dict[str, Any] = message.get("result") or {}
                return result

    def receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message (events are handed to `on_event` first); None at the deadline."""
        while True:
            while b"\0" in self.buffer:
                raw, _, self.buffer = self.buffer.partition(b"\0")
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue  # the tail of a message an earlier job left half-read
                if "method" in message and "id" not in message:
                    self.on_event(message)
                return dict(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.read_fd], [], [], remaining)[0]:
                return None
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise ProtocolError("the browser closed its pipe")
            self.buffer += chunk

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Process messages until `done()` or the timeout; whether it was done."""
        deadline = time.monotonic() + timeout
        while not done():
            if self.receive(deadline) is None:
                return done()
        return True


@dataclass
class Capture:
    png: bytes
    width: int
    height: int
    items: list[dict[str, Any]]
    truncated: bool
    blocked: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class BrowserHost:
    """The browser of this process; see the module docstring."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.pipe: Pipe | None = None
        self.profile_dir = ""
        self.scope = ""
        self.pid = 0
        self._served: dict[str, tuple[bytes, str]] = {}
        self._inputs: Path | None = None
        self._blocked: list[str] = []
        self._session = ""
        self._loaded = False
        self._navigated_to = ""
        self._navigation = ""
        """Loader id of the main frame's last committed navigation."""
        self._loaded_navigation = ""
        """Loader id of the last navigation whose load event fired."""
        self._slots: dict[bool, tuple[str, str]] = {}
        """Reused pages, one per JavaScript setting: (browser context id, session id)."""

    @property
    def running(self) -> bool:
        return (
            self.pipe is not None
            and self.process is not None
            and self.process.poll() is None
            and self.pid == os.getpid()
        ) or (self.pipe is not None and self.pid != os.getpid() and self.scope == "worker")

    def start(self, scope: str = "worker") -> None:
        """Launch Chromium with a DevTools pipe (no-op when this process already has one)."""
        if self.running:
            return
        executable = chromium_path()
        if executable is None:
            raise RenderError(
                "error",
                "no Chromium found: install Debian's chromium package (apt-get install chromium)",
            )
        self.profile_dir = tempfile.mkdtemp(prefix="cocogen-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        args = [executable, *FLAGS, f"--user-data-dir={self.profile_dir}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args.append("about:blank")

        def wire_pipes() -> None:  # in the new process, before exec: fds 3 and 4 are the pipe
            keep_in, keep_out = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(keep_in, 3)
            os.dup2(keep_out, 4)
            _die_with_parent()

        log = open(os.path.join(self.profile_dir, "chromium.log"), "wb")
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=wire_pipes,
                start_new_session=scope == "worker",
            )
        except OSError as exc:
            raise RenderError("error", f"cannot start Chromium ({executable}): {exc}") from None
        finally:
            log.close()
            os.close(to_browser_r)
            os.close(from_browser_w)
        if scope == "worker":  # out of the way of the fds a forked job's jail renumbers (0-3)
            from_browser_r, to_browser_w = _high_fd(from_browser_r), _high_fd(to_browser_w)
        self.pipe = Pipe(from_browser_r, to_browser_w)
        self.scope, self.pid = scope, os.getpid()
        try:
            self.pipe.send("Browser.getVersion", timeout=START_TIMEOUT_S)
        except ProtocolError as exc:
            tail = self._log_tail()
            self.close()
            raise RenderError(
                "error", f"Chromium did not start ({executable}): {exc}{tail}"
            ) from None

    def _log_tail(self) -> str:
        try:
            text = Path(self.profile_dir, "chromium.log").read_text(errors="replace").strip()
        except OSError:
            return ""
        return f": {text.splitlines()[-1][:200]}" if text else ""

    def close(self) -> None:
        if self.pipe is not None and self.pid == os.getpid():
            with contextlib.suppress(OSError, ProtocolError):
                self.pipe.post("Browser.close")
            for fd in (self.pipe.read_fd, self.pipe.write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self.process is not None and self.pid == os.getpid():
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.profile_dir and self.pid == os.getpid():
            shutil.rmtree(self.profile_dir, ignore_errors=True)
        self.process = None
        self.pipe = None
        self.scope = ""
        self._slots = {}

    def version(self) -> str:
        self.start("job")
        assert self.pipe is not None
        return str(self.pipe.send("Browser.getVersion").get("product", ""))

    # -- one job ------------------------------------------------------------------------------

    def _on_event(self, message: dict[str, Any]) -> None:
        assert self.pipe is not None
        method = message.get("method")
        params = message.get("params") or {}
        session = str(message.get("sessionId") or "")
        if method == "Fetch.requestPaused":
            request_id = params.get("requestId")
            url = str((params.get("request") or {}).get("url", ""))
            body = self._serve(url) if session == self._session else None
            if body is None:
                if session == self._session and url != ORIGIN + "favicon.ico":
                    self._blocked.append(url)
                self.pipe.post(
                    "Fetch.failRequest",
                    {"requestId": request_id, "errorReason": "BlockedByClient"},
                    session,
                )
            else:
                self.pipe.post(
                    "Fetch.fulfillRequest",
                    {
                        "requestId": request_id,
                        "responseCode": 200,
                        "responseHeaders": [{"name": "Content-Type", "value": body[1]}],
                        "body": base64.b64encode(body[0]).decode("ascii"),
                    },
                    session,
                )
        elif session == self._session and method == "Page.loadEventFired":
            self._loaded = bool(self._navigated_to)
            if self._navigated_to:
                self._loaded_navigation = self._navigation
        elif session == self._session and method == "Page.frameNavigated":
            frame = params.get("frame") or {}
            if not frame.get("parentId"):
                self._navigated_to = str(frame.get("url", ""))
                self._navigation = str(frame.get("loaderId", ""))

    def _serve(self, url: str) -> tuple[bytes, str] | None:
        if not url.startswith(ORIGIN):
            return None
        path = unquote(urlparse(url).path)
        if path in self._served:
            return self._served[path]
        name = PurePosixPath(path).name
        if not name or self._inputs is None:
            return None
        found = self._inputs / name
        try:
            if not found.is_file() or found.resolve().parent != self._inputs.resolve():
                return None
            data = found.read_bytes()
        except OSError:
            return None
        return data, mimetypes.guess_type(name)[0] or "application/octet-stream"

    def capture_once(self, document: bytes, content_type: str, **options: Any) -> Capture:
        """`capture`, then close the browser unless a worker owns it (the one-shot child)."""
        try:
            return self.capture(document, content_type, **options)
        finally:
            if self.scope != "worker":
                self.close()

    def capture(
        self,
        document: bytes,
        content_type: str,
        *,
        size: tuple[int, int],
        inputs: Path | None = None,
        javascript: bool = False,
        timeout_s: float = 15.0,
        settle_ms: int = 0,
    ) -> Capture:
        """Load `document` as a page, then screenshot the `size` viewport and read the DOM."""
        if not self.running:
            self.start("job")
        pipe = self.pipe
        assert pipe is not None
        try:
            os.fstat(pipe.read_fd)
            os.fstat(pipe.write_fd)
        except OSError:
            raise RenderError(
                "error",
                "the browser's pipe did not reach this job: the sandbox must keep the descriptors "
                "of renderers._browser.inherited_fds() open in the job",
            ) from None
        timings: dict[str, float] = {}
        started = time.perf_counter()
        name = "drawing.svg" if "svg" in content_type else "index.html"
        self._served = {"/" + name: (document, content_type)}
        self._inputs = inputs if inputs is not None and inputs.is_dir() else None
        self._blocked, self._loaded, self._navigated_to, self._session = [], False, "", ""
        pipe.on_event = self._on_event
        width, height = size
        context = ""
        try:
            pipe.drain()
            session, context = self._page(pipe, javascript, width, height)
            self._session = session
            self._loaded, self._navigated_to = False, ""
            timings["setup_s"] = time.perf_counter() - started
            navigation = pipe.send("Page.navigate", {"url": ORIGIN + name}, session)
            if navigation.get("errorText"):
                raise RenderError(
                    "error", f"Chromium could not load the page: {navigation['errorText']}"
                )
            # Only this navigation's load counts (a reused page may still be finishing the load
            # of a job that was killed: its events must not be taken for ours).
            loader = str(navigation.get("loaderId") or "")

            def loaded() -> bool:
                return self._loaded_navigation == loader if loader else self._loaded

            if not pipe.wait(loaded, timeout_s):
                raise RenderError(
                    "timeout",
                    f"the page did not finish loading in {timeout_s:g} s "
                    "(a script that never ends, or too much to lay out)",
                )
            timings["load_s"] = time.perf_counter() - started
            if settle_ms:
                pipe.wait(lambda: False, settle_ms / 1000)
            if self._navigated_to and not self._navigated_to.startswith(ORIGIN + name):
                where = self._blocked[-1] if self._blocked else self._navigated_to
                raise RenderError(
                    "refused", f"the page navigated away to {where}: only its own page is drawn"
                )
            t0 = time.perf_counter()
            found = self._evaluate(
                pipe,
                session,
                "(document.fonts ? document.fonts.ready : Promise.resolve()).then(() => "
                f"({DOM_SCRIPT})({json.dumps(LIMITS)}))",
                True,
            )
            timings["dom_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            shot = pipe.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                    "optimizeForSpeed": True,
                    "captureBeyondViewport": False,
                },
                session,
                timeout=timeout_s,
            )
            timings["screenshot_s"] = time.perf_counter() - t0
        except ProtocolError as exc:
            raise RenderError("error", f"Chromium could not render the page: {exc}") from None
        except RenderError:
            self._slots.pop(javascript, None)  # a page that failed is not reused
            raise
        finally:
            self._served, self._inputs, self._session = {}, None, ""
            if context and self._slots.get(javascript, ("", ""))[0] != context:
                with contextlib.suppress(ProtocolError, OSError):
                    pipe.send(
                        "Target.disposeBrowserContext", {"browserContextId": context}, timeout=5
                    )
        if not isinstance(found, dict):
            raise RenderError("error", "the page's layout could not be read")
        return Capture(
            png=base64.b64decode(shot["data"]),
            width=width,
            height=height,
            items=list(found.get("items") or []),
            truncated=bool(found.get("truncated")),
            blocked=list(self._blocked),
            timings=timings,
        )

    def prepare_pages(self) -> None:
        """Open the reused pages now (a warm worker, before it forks: jobs then skip ~0.2 s)."""
        self.start("worker")
        assert self.pipe is not None
        self.pipe.on_event = self._on_event
        for javascript in (False, True):
            self._page(self.pipe, javascript, 800, 600)

    def _page(self, pipe: Pipe, javascript: bool, width: int, height: int) -> tuple[str, str]:
        """(session, context) of a page for this job: the reused one, reset, or a new one."""
        slot = self._slots.get(javascript)
        if slot is not None:
            context, session = slot
            try:
                self._session, self._loaded, self._navigated_to = session, False, ""
                if javascript:
                    # A page that ran scripts may still run them and has storage: stop them, let
                    # the reset to about:blank finish, clear what the origin stored.
                    with contextlib.suppress(ProtocolError):
                        pipe.send("Runtime.terminateExecution", {}, session, timeout=2)
                    pipe.send("Page.navigate", {"url": "about:blank"}, session, timeout=5)
                    pipe.wait(lambda: self._navigated_to == "about:blank" and self._loaded, 5.0)
                    pipe.send(
                        "Storage.clearDataForOrigin",
                        {"origin": ORIGIN.rstrip("/"), "storageTypes": "all"},
                        session,
                    )
                else:
                    # Without scripts a page keeps no state beyond its document, which the next
                    # navigation replaces (its load is told apart by loader id, see `capture`).
                    # It must answer, though: one still busy laying out a killed job's page
                    # is replaced by a new one.
                    pipe.send("Runtime.evaluate", {"expression": "1"}, session, timeout=2)
                pipe.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                    session,
                )
                return session, context
            except ProtocolError:
                self._slots.pop(javascript, None)  # gone (a job before this one broke it)
        known = {c for c, _s in self._slots.values()}
        for stale in pipe.send("Target.getBrowserContexts").get("browserContextIds", []):
            if stale not in known:  # left behind by a job that was killed
                with contextlib.suppress(ProtocolError):
                    pipe.send("Target.disposeBrowserContext", {"browserContextId": stale})
        context = str(pipe.send("Target.createBrowserContext")["browserContextId"])
        target = pipe.send(
            "Target.createTarget",
            {"url": "about:blank", "browserContextId": context, "width": width, "height": height},
        )["targetId"]
        session = str(
            pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        )
        self._configure(pipe, session, context, width, height, javascript)
        self._slots[javascript] = (context, session)
        return session, context

    @staticmethod
    def _configure(
        pipe: Pipe, session: str, context: str, width: int, height: int, javascript: bool
    ) -> None:
        pipe.send("Page.enable", {}, session)
        pipe.send("Network.enable", {}, session)
        offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        with contextlib.suppress(ProtocolError):  # deprecated in newer Chromium: Fetch still holds
            pipe.send("Network.emulateNetworkConditions", offline, session)
        pipe.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)
        pipe.send("Network.setCacheDisabled", {"cacheDisabled": True}, session)
        pipe.send("Emulation.setScriptExecutionDisabled", {"value": not javascript}, session)
        pipe.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        with contextlib.suppress(ProtocolError):
            pipe.send("Emulation.setTimezoneOverride", {"timezoneId": "UTC"}, session)
        with contextlib.suppress(ProtocolError):
            families = {"standard": FONT_CHAIN[0], "sansSerif": FONT_CHAIN[0]}
            pipe.send("Page.setFontFamilies", {"fontFamilies": families}, session)
        with contextlib.suppress(ProtocolError):
            pipe.send(
                "Browser.setDownloadBehavior", {"behavior": "deny", "browserContextId": context}
            )

    @staticmethod
    def _evaluate(pipe: Pipe, session: str, expression: str, await_promise: bool) -> Any:
        answer = pipe.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session,
            timeout=30,
        )
        if "exceptionDetails" in answer:
            detail = answer["exceptionDetails"].get("exception", {}).get("description", "")
            raise RenderError("error", f"reading the page's layout failed: {detail[:200]}")
        return (answer.get("result") or {}).get("value")


def _high_fd(fd: int, lowest: int = 200) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
    os.close(fd)
    return moved


def inherited_fds() -> tuple[int, ...]:
    """The descriptors a forked job needs open to reach this process's browser (its pipe)."""
    if HOST.pipe is None:
        return ()
    return (HOST.pipe.read_fd, HOST.pipe.write_fd)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the browser is killed when the process that started it dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


HOST = BrowserHost()
"""The browser of this process (a warm worker's, or the one-shot child's)."""


def blocked_note(blocked: list[str]) -> list[str]:
    if not blocked:
        return []
    unique = sorted(set(blocked))
    more = f" and {len(unique) - 3} more" if len(unique) > 3 else ""
    return [
        f"blocked {len(blocked)} request(s) outside the job's files: {', '.join(unique[:3])}{more}"
    ]
