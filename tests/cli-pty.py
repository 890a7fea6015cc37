#!/usr/bin/env python3
# cli-pty.py -- drives raftkvctl's interactive shell through a pseudo-terminal
# and prints TAP.  Usage: cli-pty.py RAFTKVCTL ENDPOINTS SCRATCH_DIR
import os
import pty
import re
import select
import signal
import socket
import sys
import threading
import time

RAFTKVCTL, ENDPOINTS, SCRATCH = sys.argv[1], sys.argv[2], sys.argv[3]
PROMPT = re.compile(rb"http://127\.0\.0\.1:\d+ \((leader|follower|candidate|unknown)\)> ")
n = 0
failed = 0


def report(cond, name, detail=b""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (n, name))
    if not cond:
        failed += 1
        print("#   output: %r" % detail[-600:])
    sys.stdout.flush()


class Shell:
    """One raftkvctl shell on a pty, with expect-like helpers."""

    def __init__(self, endpoints, histfile, timeout="5s"):
        env = dict(os.environ, TERM="dumb", RAFTKVCTL_HISTFILE=histfile,
                   RAFTKVCTL_ENDPOINTS=endpoints, HOME=SCRATCH)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(RAFTKVCTL, [RAFTKVCTL, "--timeout", timeout], env)
        self.buf = b""

    def send(self, data):
        os.write(self.fd, data)

    def expect(self, pattern, timeout=5.0):
        """Waits for pattern (bytes regex) in the new output; returns the
        match or None, consuming the output up to its end."""
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.seen = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0:
                self.seen = self.buf
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    self.seen = self.buf
                    return rx.search(self.buf)
                self.buf += data

    def wait_exit(self, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.05)
        return None

    def kill(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        os.close(self.fd)


def blackhole():
    """A listener that accepts connections and never answers."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    held = []

    def run():
        while True:
            try:
                held.append(s.accept())
            except OSError:
                return
    threading.Thread(target=run, daemon=True).start()
    return s


hist = os.path.join(SCRATCH, "history")

# 1. Prompt, a put/get round trip, completion, Ctrl-C at the prompt, Ctrl-D.
sh = Shell(ENDPOINTS, hist)
m = sh.expect(PROMPT)
report(m is not None, "the prompt shows the node and its role", sh.seen)
sh.send(b"put 'pty key' \"v\\x41 lue\"\r")
m = sh.expect(rb"OK \(mod_index \d+\)")
report(m is not None, "put with quotes and \\x41 answers OK", sh.seen)
sh.expect(PROMPT)
sh.send(b"get 'pty key'\r")
m = sh.expect(rb"\r\nvA lue\r\n")
report(m is not None, "get returns the value put", sh.seen)
sh.expect(PROMPT)
sh.send(b"sta\t")
m = sh.expect(rb"status ")
report(m is not None, "Tab completes sta to status", sh.seen)
sh.send(b"\r")
m = sh.expect(rb"HEALTH.*\r\n.*healthy", timeout=8)
report(m is not None, "the completed status command runs", sh.seen)
sh.expect(PROMPT)
sh.send(b"l\t\t")
m = sh.expect(rb"leader\s+list")
report(m is not None, "Tab twice on l lists leader and list", sh.seen)
sh.send(b"\x15")          # Ctrl-U: kill the line
sh.send(b"some junk")
time.sleep(0.2)
sh.send(b"\x03")
m = sh.expect(rb"\^C")
report(m is not None, "Ctrl-C at the prompt echoes ^C", sh.seen)
m = sh.expect(PROMPT)
report(m is not None, "and gives a fresh prompt", sh.seen)
sh.send(b"get 'pty key'\r")
m = sh.expect(rb"\r\nvA lue\r\n")
report(m is not None, "the shell still works after Ctrl-C", sh.seen)
sh.expect(PROMPT)
sh.send(b"\x04")
code = sh.wait_exit()
report(code == 0, "Ctrl-D exits with status 0 (got %r)" % code)
sh.kill()

# 2. History across two runs.
try:
    with open(hist, "rb") as f:
        saved = f.read()
except OSError:
    saved = b""
report(b"put 'pty key'" in saved, "history file holds the commands", saved)
sh = Shell(ENDPOINTS, hist)
sh.expect(PROMPT)
sh.send(b"\x10")          # Ctrl-P: previous history line
m = sh.expect(rb"get 'pty key'")
report(m is not None, "Ctrl-P recalls the last line of the first run", sh.seen)
sh.send(b"\r")
m = sh.expect(rb"vA lue")
report(m is not None, "and runs it", sh.seen)
sh.expect(PROMPT)
sh.send(b"\x04")
sh.wait_exit()
sh.kill()

# 3. Ctrl-C cancels a request to a node that accepts and never answers.
bh = blackhole()
url = "http://127.0.0.1:%d" % bh.getsockname()[1]
sh = Shell(url, "/dev/null", timeout="60s")
m = sh.expect(rb"> ", timeout=3)
report(m is not None and b"not connected> " in sh.seen,
       "a silent node leaves the prompt at not connected>", sh.seen)
sh.send(b"get --stale k\r")
time.sleep(1.0)
alive = os.waitpid(sh.pid, os.WNOHANG)[0] == 0
report(alive and sh.expect(rb"> ", timeout=0.2) is None,
       "the request hangs on the silent node", sh.seen)
t0 = time.monotonic()
sh.send(b"\x03")
m = sh.expect(rb"interrupted", timeout=3)
report(m is not None, "Ctrl-C interrupts it", sh.seen)
m = sh.expect(rb"not connected> ", timeout=3)
report(m is not None and time.monotonic() - t0 < 3,
       "and the prompt comes back at once", sh.seen)
sh.send(b"help get\r")
m = sh.expect(rb"usage: get")
report(m is not None, "the shell survives the interrupt", sh.seen)
# Wait for the prompt: a Ctrl-D typed before readline is back is read by
# the terminal in cooked mode, not by the shell.
sh.expect(rb"not connected> ")
sh.send(b"\x04")
code = sh.wait_exit()
report(code == 0, "Ctrl-D exits (got %r)" % code)
sh.kill()
bh.close()

print("1..%d" % n)
sys.exit(1 if failed else 0)
