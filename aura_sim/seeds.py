"""The seed tree: one root seed, independent named random streams for every consumer.

A run has exactly one source of randomness, its root seed. Every consumer (the scheduler, the
network's latency model, node `alice`'s `RandomEffects`) takes its own `Stream`, addressed by a
path in a tree:

    tree = SeedTree(7)
    tree.stream("scheduler")
    tree.child("node", "alice").stream("random")

A stream's seed is BLAKE3 over the root seed and the path (each component tagged as a child or
a stream and length-prefixed), so streams are independent by construction: adding, removing or
draining one stream never changes the numbers another draws, which keeps old seeds meaningful
when a new consumer appears. Nothing here uses `hash()`, so the derivation does not depend on
PYTHONHASHSEED or on the process.

Each `Stream` is a Mersenne Twister (`random.Random` seeded with the 256-bit derived integer).
CPython guarantees only that `random()` and `getrandbits()` stay the same across versions for a
given seed, so every other draw here (`below`, `shuffle`, `choice`, `bytes`, the distributions)
is written on top of those two and its algorithm is part of this module's contract.
"""

from __future__ import annotations

import math
import random
from collections.abc import MutableSequence, Sequence
from typing import TypeVar

import attrs

from aura_core.errors import InvalidArgument
from aura_core.hashing import tagged_hash, u32, u64

__all__ = ["SeedTree", "Stream"]

T = TypeVar("T")

_TAG = "AURA_SIM_SEED_V1"
_CHILD = b"c"
_STREAM = b"s"


def _check_root(_: object, __: object, value: int) -> None:
    if type(value) is not int or not 0 <= value < 1 << 64:
        raise InvalidArgument(f"a root seed is an int in [0, 2**64), got {value!r}")


def _check_name(name: object) -> str:
    if type(name) is not str or not name:
        raise InvalidArgument(f"seed tree names are non-empty str, got {name!r}")
    return name


def _component(kind: bytes, name: str) -> bytes:
    data = name.encode("utf-8")
    return kind + u32(len(data)) + data


@attrs.frozen
class SeedTree:
    """A node of the seed tree: the root seed plus the names of the children walked so far.

    Values, not generators: `child` and `stream` are pure functions of (root, path, name), so
    any part of the simulator can re-derive a stream without coordinating with the others.
    """

    root: int = attrs.field(validator=_check_root)
    path: tuple[str, ...] = ()

    def child(self, *names: str) -> SeedTree:
        """The subtree under `names`; `child("a", "b")` is `child("a").child("b")`."""
        if not names:
            raise InvalidArgument("child() needs at least one name")
        return SeedTree(self.root, self.path + tuple(_check_name(n) for n in names))

    def seed(self, name: str) -> int:
        """The 256-bit integer seed of stream `name` under this node."""
        parts = [u64(self.root)]
        parts.extend(_component(_CHILD, part) for part in self.path)
        parts.append(_component(_STREAM, _check_name(name)))
        return int.from_bytes(tagged_hash(_TAG, *parts).digest, "little")

    def stream(self, name: str) -> Stream:
        """A fresh generator for stream `name`; each call starts the same sequence again."""
        return Stream(self.seed(name), label="/".join((*self.path, name)))

    def __str__(self) -> str:
        return f"seed {self.root}" + "".join(f"/{p}" for p in self.path)


class Stream:
    """One independent, reproducible random stream.

    Draws are defined on top of `getrandbits` and `random()` only (see the module docstring), so
    a seed replays the same values on every CPython version this project supports. Float draws
    that go through `math.log`/`exp`/`cos` are reproducible on one platform; integer, byte and
    permutation draws are reproducible everywhere.
    """

    __slots__ = ("_bits", "_random", "_rng", "label")

    def __init__(self, seed: int, *, label: str = "") -> None:
        if type(seed) is not int or seed < 0:
            raise InvalidArgument("a stream seed is a non-negative int")
        self._rng = random.Random(seed)
        self._bits = self._rng.getrandbits
        self._random = self._rng.random
        self.label = label

    def __repr__(self) -> str:
        return f"Stream({self.label!r})"

    # -- primitives ---------------------------------------------------------------------------

    def random(self) -> float:
        """A float in [0.0, 1.0) with 53 random bits."""
        return self._random()

    def getrandbits(self, k: int) -> int:
        """A non-negative int of `k` random bits."""
        if k < 0:
            raise InvalidArgument("getrandbits needs k >= 0")
        return self._bits(k) if k else 0

    # -- integers -----------------------------------------------------------------------------

    def below(self, n: int) -> int:
        """A uniform int in [0, n) by rejection sampling on the fewest bits that cover n - 1
        (so a power of two never rejects). `below(1)` is 0 and draws nothing.
        """
        if n <= 0:
            raise InvalidArgument(f"below() needs n > 0, got {n!r}")
        if n == 1:
            return 0
        k = (n - 1).bit_length()
        bits = self._bits
        r = bits(k)
        while r >= n:
            r = bits(k)
        return r

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        """A uniform element of `range(start, stop, step)` (or `range(start)`)."""
        values = range(start) if stop is None else range(start, stop, step)
        if not values:
            raise InvalidArgument(f"randrange over an empty range {values!r}")
        return values[self.below(len(values))]

    def randint(self, low: int, high: int) -> int:
        """A uniform int in [low, high], both ends included."""
        return self.randrange(low, high + 1)

    def u64(self) -> int:
        """A uniform int in [0, 2**64)."""
        return self._bits(64)

    def bytes(self, n: int) -> bytes:
        """`n` random bytes (little-endian from `getrandbits(8 * n)`)."""
        if n < 0:
            raise InvalidArgument("bytes() needs n >= 0")
        return self._bits(8 * n).to_bytes(n, "little") if n else b""

    # -- sequences ----------------------------------------------------------------------------

    def choice(self, seq: Sequence[T]) -> T:
        """A uniform element of a non-empty sequence."""
        if not seq:
            raise InvalidArgument("choice() from an empty sequence")
        return seq[self.below(len(seq))]

    def shuffle(self, items: MutableSequence[T]) -> None:
        """Permute `items` in place, uniformly (Fisher-Yates from the end)."""
        below = self.below
        for i in range(len(items) - 1, 0, -1):
            j = below(i + 1)
            items[i], items[j] = items[j], items[i]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """`k` distinct positions of `seq`, uniformly, in selection order."""
        if not 0 <= k <= len(seq):
            raise InvalidArgument(f"sample of {k} from {len(seq)} elements")
        pool = list(seq)
        below = self.below
        out = []
        for i in range(k):
            j = i + below(len(pool) - i)
            pool[i], pool[j] = pool[j], pool[i]
            out.append(pool[i])
        return out

    # -- distributions ------------------------------------------------------------------------

    def bernoulli(self, p: float) -> bool:
        """True with probability `p`. Always draws once, whatever `p` is, so changing a
        probability knob does not shift the draws that follow."""
        if not 0.0 <= p <= 1.0:
            raise InvalidArgument(f"a probability is in [0, 1], got {p!r}")
        return self._random() < p

    def uniform(self, low: float, high: float) -> float:
        """A float in [low, high) (`low + (high - low) * random()`)."""
        return low + (high - low) * self._random()

    def expovariate(self, rate: float) -> float:
        """Exponentially distributed with the given rate (mean `1 / rate`)."""
        if rate <= 0.0:
            raise InvalidArgument("expovariate needs rate > 0")
        return -math.log(1.0 - self._random()) / rate

    def normalvariate(self, mu: float, sigma: float) -> float:
        """Normal by Box-Muller; draws twice and keeps no state between calls."""
        u1 = self._random()
        u2 = self._random()
        return mu + sigma * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(math.tau * u2)

    def lognormvariate(self, mu: float, sigma: float) -> float:
        """`exp` of a normal draw: a right-skewed latency with a long tail."""
        return math.exp(self.normalvariate(mu, sigma))
