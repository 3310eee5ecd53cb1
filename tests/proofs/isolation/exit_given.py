import sys

from hypothesis import given, strategies as st

from l2l import claim
from _false import false_claim  # noqa: F401


@claim(id="iso.bad", statement="-", source="test", kind="identity")
@given(x=st.integers(0, 5))
def bad(x):
    sys.exit(0)
