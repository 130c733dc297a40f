"""Hypothesis strategies shared across the test suite."""

from hypothesis import strategies as st

from aura_core.encoding import INT_MAX, INT_MIN, Value

scalar_values: st.SearchStrategy[Value] = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.integers(-30, 30)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)

values: st.SearchStrategy[Value] = st.recursive(
    scalar_values,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=25,
)

entropy = st.binary(min_size=32, max_size=32)
