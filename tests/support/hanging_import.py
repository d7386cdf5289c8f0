"""A plugin module whose import never returns, as one stuck on a dead network share would."""

import threading

threading.Event().wait()
