from hypothesis import given, strategies as st

from l2l import claim


@claim(id="iso.two", statement="x is neither odd nor even", source="test", kind="identity")
@given(x=st.integers(1, 100))
def two(x):
    if x % 2:
        raise AssertionError("odd")
    raise AssertionError("even")
