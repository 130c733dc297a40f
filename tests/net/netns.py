"""Hosts in Linux network namespaces, wired to one bridge, for the multi-host tests.

`hosts(count)` creates a switch namespace holding a bridge and `count` host namespaces, each
with one veth link to the bridge and an address 10.79.0.(11 + i)/24; everything is named with
this process's id and removed when the context ends, whatever happened. Links are created
directly between the namespaces, so nothing is added to the namespace the tests run in, and
only addresses inside these namespaces are used. `cut(i)` and `mend(i)` take host i's switch
port down and up again (a pulled cable); TCP in the hosts retransmits at least once a second,
so a mended link carries traffic again at once. Namespaces left by an earlier run that was killed
(their process id no longer runs) are removed first.

Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and `ip`; `unavailable()`
says why they cannot be created here, or None, and `hosts_or_skip` skips the test calling it,
printing why, where they cannot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

RTO_MAX = Path("/proc/sys/net/ipv4/tcp_rto_max_ms")
PREFIX = "aurat"
SUBNET = "10.79.0"
_OURS = re.compile(rf"^{PREFIX}-(?:sw|h\d+)-(\d+)$")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale() -> None:
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=30, check=False
    )
    for line in listed.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _OURS.match(name)
        if match and not _alive(int(match.group(1))):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def unavailable() -> str | None:
    """Why network namespaces cannot be created here (None: they can)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"{PREFIX}-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` failed: {exc.stderr.strip() or exc}"
    except OSError as exc:
        return f"`ip netns add` failed: {exc}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


@attrs.frozen
class Hosts:
    """The switch namespace and each host's namespace and address."""

    switch: str
    names: tuple[str, ...]
    addresses: tuple[str, ...]

    def port(self, index: int) -> str:
        return f"p{index}-{os.getpid()}"

    def cut(self, index: int) -> None:
        """Take host `index`'s switch port down: its packets go nowhere."""
        _ip("-n", self.switch, "link", "set", self.port(index), "down")

    def mend(self, index: int) -> None:
        _ip("-n", self.switch, "link", "set", self.port(index), "up")


def _quick_retransmits(namespace: str) -> None:
    """TCP in `namespace` retransmits at least once a second (where the kernel has
    `tcp_rto_max_ms`, 6.15 on): once a cut link is mended, a connection that lost packets
    carries traffic again within a second, not after a back-off as long as the cut was."""
    if RTO_MAX.exists():
        _ip("netns", "exec", namespace, "sysctl", "-qw", "net.ipv4.tcp_rto_max_ms=1000")


@contextmanager
def hosts(count: int) -> Iterator[Hosts]:
    """`count` hosts on one bridge (see the module docstring)."""
    _remove_stale()
    pid = os.getpid()
    made = Hosts(
        f"{PREFIX}-sw-{pid}",
        tuple(f"{PREFIX}-h{i}-{pid}" for i in range(count)),
        tuple(f"{SUBNET}.{11 + i}" for i in range(count)),
    )
    created: list[str] = []
    try:
        _ip("netns", "add", made.switch)
        created.append(made.switch)
        _ip("-n", made.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", made.switch, "link", "set", "br0", "up")
        for index, (name, address) in enumerate(zip(made.names, made.addresses, strict=True)):
            _ip("netns", "add", name)
            created.append(name)
            link = f"e{index}-{pid}"
            port = made.port(index)
            _ip(
                "link", "add", link, "netns", name,
                "type", "veth", "peer", "name", port, "netns", made.switch,
            )  # fmt: skip
            _ip("-n", made.switch, "link", "set", port, "master", "br0")
            _ip("-n", made.switch, "link", "set", port, "up")
            _ip("-n", name, "addr", "add", f"{address}/24", "dev", link)
            _ip("-n", name, "link", "set", link, "up")
            _ip("-n", name, "link", "set", "lo", "up")
            _quick_retransmits(name)
        yield made
    finally:
        for name in reversed(created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@contextmanager
def hosts_or_skip(count: int) -> Iterator[Hosts]:
    """`hosts(count)`, or the test skipped with the reason printed (no root, no `ip`)."""
    reason = unavailable()
    if reason is not None:
        print(f"network namespaces cannot be created here: {reason}")
        pytest.skip(f"network namespaces cannot be created here: {reason}")
    with hosts(count) as made:
        yield made
