"""A projector in a process of its own, for the crash and lease tests, and its remote control.

Run as `python -m tests.integration.projector_process MODE PAGE_SIZE` with the store named by
the `CASELINE_*` environment (as `caseline project` would be). It reports on stdout, one line
at a time, flushed, so the parent can kill it at a chosen moment:

- `catch-up`: `ready <position>`, then `B <first> <last>` when a page has been read (inside
  the page's transaction, before its rows are written), `C <position>` once it is committed,
  and `done <entries consumed>`. Decoding is slowed (1 ms an entry) so a page takes long
  enough for a kill to land inside it.
- `together`: as `catch-up` at full speed, but prints `waiting` first and builds nothing (not
  even the view tables) until a line arrives on stdin, so two of them start at once.
- `forever`: `run_forever` until SIGTERM; prints `leased` when it first holds the lease and
  `stopped` when it has let go.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def say(*parts: object) -> None:
    print(*parts, flush=True)


def main(mode: str, page_size: int) -> None:
    from api.settings import Settings
    from api.storage import build_projector

    if mode == "together":
        say("waiting")
        sys.stdin.readline()
    projector = build_projector(Settings(), page_size=page_size)
    try:
        if mode == "forever":
            run_forever(projector)
        else:
            if mode == "catch-up":
                mark_pages(projector)
            say("ready", projector.position())
            consumed = 0
            while entries := projector.run_once():
                consumed += entries
                say("C", projector.position())
            say("done", consumed)
    finally:
        projector.db.close()
        projector.log.close()


def mark_pages(projector: Any) -> None:
    log = projector.log
    read_page, decode = log.page, projector.decode

    def page(start: int, limit: int, stop: int | None = None) -> Any:
        found = read_page(start, limit, stop)
        if found:
            say("B", found[0].id, found[-1].id)
        return found

    def slow_decode(notification: Any) -> Any:
        time.sleep(0.001)
        return decode(notification)

    log.page = page
    projector.decode = slow_decode


def run_forever(projector: Any) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    take = projector.db.try_lease
    told: list[bool] = []

    def try_lease() -> bool:
        held: bool = take()
        if held and not told:
            told.append(True)
            say("leased")
        return held

    projector.db.try_lease = try_lease
    say("ready")
    projector.run_forever(stop, interval=0.05)
    say("stopped")


# -- the parent's side --------------------------------------------------------------------------


class ProjectorProcessEndedError(AssertionError):
    """Raised when a projector process ended before saying what the test waited for."""


class ProjectorProcess:
    """A child projector process whose report lines the parent reads without blocking."""

    def __init__(self, settings: Any, mode: str, *, page_size: int = 100) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASELINE_")}
        env["CASELINE_DATA_DIR"] = str(settings.data_dir)
        if settings.database_url:
            env["CASELINE_DATABASE_URL"] = settings.database_url
            env["CASELINE_DATABASE_SCHEMA"] = settings.database_schema or ""
        # A file, not a pipe: it never fills up and blocks the child. Closed by close().
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.projector_process", mode, str(page_size)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            text=True, bufsize=1,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self, timeout: float = 60.0) -> str | None:
        """The next report line, or None once the process has closed its output."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no word from the projector process in {timeout} s{self.stderr()}"
            ) from None
        if line is not None:
            self.seen.append(line)
        return line

    def wait_for(self, word: str, timeout: float = 60.0) -> str:
        """Read report lines until one starts with `word`; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(max(0.01, deadline - time.monotonic()))
            if line is None:
                errors = self.stderr()
                said = "; ".join(self.seen[-4:])
                raise ProjectorProcessEndedError(
                    f"the projector process ended before saying {word!r} (said: {said}){errors}"
                )
            if line.split()[0] == word:
                return line

    def quiet_for(self, word: str, seconds: float) -> bool:
        """Whether the process says nothing starting with `word` for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return True
            if line is None:
                return True
            self.seen.append(line)
            if line.split()[0] == word:
                return False
        return True

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no commit; then collect what it had said."""
        self.proc.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the process to end and read the rest of its report; its exit code."""
        code = self.proc.wait(timeout=timeout)
        while self.next_line(timeout) is not None:
            pass
        self._reader.join(timeout)
        return code

    def stderr(self) -> str:
        """What the process wrote to stderr, once it has ended (empty while it runs)."""
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return ""
        self._errors.seek(0)
        text = self._errors.read().decode(errors="replace")
        return f"; its stderr:\n{text[-6000:]}" if text else ""

    def close(self) -> None:
        """Make sure the process is gone (a test that failed midway must not leave it running)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        self._reader.join(60)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._errors.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
