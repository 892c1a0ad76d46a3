"""Runtimes: the embedded (one process) runner and the Kafka runner share the stages."""
