"""`exit_with_parent`, shared by the fresh-process checks `_verify_export.py` and
`_verify_formats.py` (run as scripts: they import it as a sibling file, which imports
nothing heavy)."""

import os
import sys


def exit_with_parent(parent: int) -> None:
    """Die when the exporting process `parent` dies: the kernel sends SIGKILL
    (Linux PR_SET_PDEATHSIG), elsewhere a thread polls the parent pid. Exit at
    once if it died before this ran."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    else:
        import threading
        import time

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)
