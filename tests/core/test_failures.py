"""`raise_single`: one failure arrives as itself, several as the group."""

from __future__ import annotations

import pytest

from aura_core.failures import leaves, raise_single


def test_one_failure_nested_in_groups_is_raised_as_itself_with_its_own_chain() -> None:
    try:
        try:
            raise KeyError("root cause")
        except KeyError as root:
            raise ValueError("the failure") from root
    except ValueError as failure:
        single = failure
    group = BaseExceptionGroup("outer", [ExceptionGroup("inner", [single])])
    with pytest.raises(ValueError) as caught:
        try:
            raise group
        except BaseExceptionGroup as handled:
            raise_single(handled)
    assert caught.value is single
    assert isinstance(single.__cause__, KeyError) and single.__suppress_context__
    assert single.__context__ is single.__cause__  # not the group it was handled in


def test_several_failures_stay_a_group() -> None:
    group = ExceptionGroup("two", [ValueError("a"), ExceptionGroup("b", [KeyError("b")])])
    with pytest.raises(ExceptionGroup) as caught:
        raise_single(group)
    assert caught.value is group
    assert [type(e) for e in leaves(group)] == [ValueError, KeyError]
