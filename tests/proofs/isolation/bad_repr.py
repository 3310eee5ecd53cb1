from hypothesis import given, strategies as st

from l2l import claim, refute
from _false import false_claim  # noqa: F401


class Opaque:
    def __repr__(self):
        raise RuntimeError("no repr")


@claim(id="iso.bad", statement="-", source="test", kind="identity", expect="refuted")
@given(w=st.builds(Opaque))
def bad(w):
    refute("fails with a witness that cannot be shown", witness=w)
