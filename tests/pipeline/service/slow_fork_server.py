"""Imported last by a test's worker fork server: it stands for a loaded machine's slow
imports (3-20 s of :mod:`pipeline.runtime.preload`), so that a stop surely comes while
the fork server still imports (``test_service_signals``)."""

import time

time.sleep(30)
