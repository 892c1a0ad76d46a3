"""The stages of the pipeline, each a plain unit (see :mod:`pipeline.stages.base`)."""

from pipeline.stages.base import Stage, StageFailed, run_chain

__all__ = ["Stage", "StageFailed", "run_chain"]
