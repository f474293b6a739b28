"""Where the heavy work runs: in this process (``local``), or as tasks on a Dask cluster (``dask``).

``dask`` starts a :class:`distributed.LocalCluster` of ``workers`` processes (one thread each: every
task is a whole recording or a block of a matrix, and the numerical libraries inside a task take the
cores they are given), or joins a running scheduler at ``scheduler`` (for example one that
dask-jobqueue started on an HPC system). The callers hand their tasks to the client this module yields
and gather the results; ``local`` yields ``None`` and the callers loop in this process.

Core layer: imports nothing of the package but its exceptions; ``distributed`` is imported only when
asked for, so that ``local`` work never pays for it.
"""

import contextlib
import os

from dolphin_ae.exceptions import ParameterError

ENGINES = ("local", "dask")


def check_engine(engine, workers=None, scheduler=None):
    """Raise :class:`ParameterError` naming the parameter when ``engine``, ``workers`` or ``scheduler``
    cannot be used; return the number of local workers a ``dask`` engine would start (``None`` when it
    joins ``scheduler`` or runs ``local``)."""
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"workers must be a whole number >= 1, got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ParameterError(f"scheduler must be an address such as tcp://host:8786, got {scheduler!r}")
    if engine == "local":
        if scheduler is not None:
            raise ParameterError("scheduler is only used with engine 'dask'")
        if workers is not None:
            raise ParameterError("workers is only used with engine 'dask' (engine 'local' runs in this process)")
        return None
    if scheduler is not None:
        if workers is not None:
            raise ParameterError("workers is only used when engine 'dask' starts its own cluster "
                                 "(a scheduler was given: its cluster has its own workers)")
        return None
    return workers if workers is not None else max(1, os.cpu_count() or 1)


# Seconds to wait for a scheduler given by address before saying it cannot be reached.
CONNECT_TIMEOUT_S = 30


@contextlib.contextmanager
def engine_client(engine="local", *, workers=None, scheduler=None, connect_timeout_s=None):
    """Yield ``None`` for ``local``, or a :class:`distributed.Client` for ``dask`` that is closed (with
    the cluster it started, if any) when the block ends.

    Raises
    ------
    ParameterError
        Bad settings (:func:`check_engine`), or no scheduler answers at ``scheduler`` within
        ``connect_timeout_s`` seconds (default ``CONNECT_TIMEOUT_S``).
    """
    n_workers = check_engine(engine, workers, scheduler)
    if engine == "local":
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S if connect_timeout_s is None else connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as error:
            raise ParameterError(f"scheduler {scheduler}: cannot be reached ({error}); is the cluster running, "
                                 f"and is this its address (e.g. tcp://host:8786)?") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client
