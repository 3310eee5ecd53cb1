import signal
import time

from l2l import claim
from _false import false_claim  # noqa: F401


@claim(id="iso.bad", statement="-", source="test", kind="identity", timeout={"ci": 1})
def bad():
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            time.sleep(0.1)
        except BaseException:  # noqa: BLE001 - on purpose
            pass
