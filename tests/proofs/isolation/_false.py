"""The false claim each misbehaving file carries beside its bad one."""
from l2l import claim


@claim(id="iso.false", statement="1 = 2", source="test", kind="identity")
def false_claim():
    assert 1 == 2, "one is not two"
