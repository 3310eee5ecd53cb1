import sys

from l2l import claim


@claim(id="iso.bad", statement="-", source="test", kind="identity")
def bad():
    pass


sys.exit(0)
