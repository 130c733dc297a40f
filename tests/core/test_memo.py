"""`memoized_property` computes once per instance and then answers from the instance."""

from __future__ import annotations

import attrs
import pytest

from aura_core.memo import memoized_property


@attrs.frozen(slots=False)
class Box:
    value: int
    calls: list[int] = attrs.field(factory=list, eq=False)

    @memoized_property
    def doubled(self) -> int:
        """Twice the value."""
        self.calls.append(self.value)
        return 2 * self.value


def test_computes_once_per_instance_and_keeps_the_value() -> None:
    first, second = Box(3), Box(4)
    assert (first.doubled, first.doubled, second.doubled) == (6, 6, 8)
    assert first.calls == [3] and second.calls == [4]
    assert first.__dict__["doubled"] == 6


def test_class_access_gives_the_descriptor_with_its_doc() -> None:
    assert isinstance(Box.doubled, memoized_property)
    assert Box.doubled.__doc__ == "Twice the value."


def test_frozen_instances_stay_frozen_and_equal() -> None:
    box = Box(5)
    _ = box.doubled
    assert box == Box(5)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        box.value = 6  # type: ignore[misc]
