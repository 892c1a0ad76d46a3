"""Worker processes come from a fork server that has already imported their code."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from pipeline.runtime.processes import worker_context

# Evaluated in a worker: how many language models its process has loaded, without loading
# one (KeyError if the fork server never imported the extraction code).
MODELS_LOADED = (
    "__import__('sys').modules['pipeline.extraction.metadata']._identifier.cache_info().currsize"
)


def test_a_worker_starts_with_the_code_imported_and_the_language_model_loaded() -> None:
    context = worker_context()
    assert context.get_start_method() == "forkserver"
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        assert pool.submit(eval, MODELS_LOADED).result(timeout=120) == 1
