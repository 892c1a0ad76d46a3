"""End-to-end benchmarks: a seeded corpus served on loopback, and four ways to ingest it.

``python -m bench.run_all`` drives everything; the modules here are its parts:

- :mod:`bench.e2e.corpus`: build (once, cached) the seeded corpus on disk;
- :mod:`bench.e2e.server`: serve it over HTTP, one loopback address per site;
- :mod:`bench.e2e.limit`, :mod:`bench.e2e.naive`: trafilatura alone on every
  core, and the sequential script a user would otherwise write;
- :mod:`bench.e2e.newsflow`: ``newsflow run --once`` on both transports, and
  the Kafka latency run at a given rate;
- :mod:`bench.e2e.polling`: 10,000 feeds with validators on a compressed schedule;
- :mod:`bench.e2e.procs`: peak memory and CPU of a process tree, from ``/proc``.
"""
