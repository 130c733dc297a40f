"""Operation categories: the decision rule and the reference's examples."""

from __future__ import annotations

import itertools

import attrs

from aura_consensus.categories import EXAMPLES, Category, OperationTraits, categorize


def test_reference_examples_fall_in_their_categories() -> None:
    expected = {
        Category.A: {"send_message", "create_channel", "set_topic", "react", "block"},
        Category.B: {"change_permissions", "kick", "transfer_ownership"},
        Category.C: {
            "add_contact",
            "create_group",
            "add_member",
            "enroll_device",
            "revoke_device",
            "rotate_guardians",
            "recovery",
            "hard_fork",
        },
    }
    for category, names in expected.items():
        for name in names:
            assert categorize(EXAMPLES[name]) is category, name
    assert set(EXAMPLES) == set().union(*expected.values())


def test_the_decision_rule_in_order() -> None:
    names = [f.name for f in attrs.fields(OperationTraits)]
    for flags in itertools.product([False, True], repeat=len(names)):
        traits = OperationTraits(**dict(zip(names, flags, strict=True)))
        if traits.changes_crypto_relationship and traits.user_waits:
            expected = Category.C
        elif traits.removes_from_context or (
            traits.affects_others and (traits.high_risk or traits.irreversible)
        ):
            expected = Category.B
        else:
            expected = Category.A
        assert categorize(traits) is expected, traits
