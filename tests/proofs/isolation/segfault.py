import ctypes

from l2l import claim
from _false import false_claim  # noqa: F401


@claim(id="iso.bad", statement="-", source="test", kind="identity")
def bad():
    ctypes.string_at(0)
