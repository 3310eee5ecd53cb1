import sys

from l2l import claim
from _false import false_claim  # noqa: F401


@claim(id="iso.bad", statement="-", source="test", kind="identity")
def bad():
    line = "x" * 1023 + "\n"
    for _ in range(50 * 1024):  # 50 MiB on stdout, and some on stderr
        sys.stdout.write(line)
    print("{not json", file=sys.stderr)
