"""`marrow classify --engine dask`: the images in partitions on a Dask cluster.

Each worker loads the model once (a per-process cache), checks that it is the client's model
(the files' SHA-256 on load, then the identity) and runs the same `core.batch.run_batch` over
its partition without a store. Partitions come back as they finish; the client looks the images
up in the results store before sending them, stores what comes back and writes the rows through
the same report writer as a local run, so resume, error rows and the summary behave the same.
A partition's rows arrive whole or not at all: when a worker dies, Dask runs the partition again
elsewhere, so no image is written twice. Needs the `[cluster]` extra (dask[distributed]).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marrow_desktop.core.errors import MarrowError

if TYPE_CHECKING:
    from marrow_desktop.core.fields import FieldSearch
    from marrow_desktop.core.quality import QualityThresholds
    from marrow_desktop.core.results import ImageResult
    from marrow_desktop.core.store import ResultStore
    from marrow_desktop.inference.classifier import Classifier

#: Images per partition (one Dask task) unless --partition says otherwise.
DEFAULT_PARTITION = 256
#: Seconds to wait for a scheduler given with --scheduler.
CONNECT_TIMEOUT = 10

_LOADED: dict[tuple, Any] = {}  # a worker process's models, loaded once


class ClusterError(MarrowError):
    """The cluster cannot run the job (unreachable scheduler, a worker without the model)."""


@dataclass(frozen=True)
class PartitionJob:
    """What every partition needs besides its paths: the model as the workers find it."""

    model: str  # the model's metadata file, a path the workers can read
    identity: str  # the client's model identity (ModelSpec.identity)
    domain_sha256: str
    backend: str
    threads: int | None
    batch_size: int
    thresholds: QualityThresholds
    fields: FieldSearch | None = None


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def worker_classifier(job: PartitionJob) -> Classifier:
    """The job's model in this worker process (loaded and checked once)."""
    from marrow_desktop.inference.loader import load_classifier

    key = (job.model, job.identity, job.backend, job.threads)
    if key not in _LOADED:
        try:
            classifier = load_classifier(job.model, backend=job.backend, threads=job.threads)
        except MarrowError as exc:
            raise ClusterError(f"worker {_worker_name()}: {exc}") from None
        spec = classifier.spec
        if (spec.identity, spec.domain_sha256) != (job.identity, job.domain_sha256):
            raise ClusterError(
                f"worker {_worker_name()}: {job.model} is another model than the client's "
                f"(identity {spec.identity[:12]}..., the client's {job.identity[:12]}...)")
        _LOADED[key] = classifier
    return _LOADED[key]


def classify_partition(paths: list[str], job: PartitionJob
                       ) -> list[tuple[ImageResult, int, int]]:
    """(result, file size, mtime_ns) of every image of a partition (runs on a worker)."""
    from marrow_desktop.core.batch import run_batch

    classifier = worker_classifier(job)
    spec = classifier.spec
    stats = {}
    for path in paths:
        try:
            st = os.stat(path)
            stats[path] = (st.st_size, st.st_mtime_ns)
        except OSError:
            stats[path] = (-1, -1)
    results = run_batch([Path(p) for p in paths], classifier, classes=spec.classes,
                        model_sha256=spec.model_sha256, model_name=spec.name,
                        batch_size=job.batch_size, thresholds=job.thresholds, fields=job.fields)
    return [(r, *stats.get(r.path, (-1, -1))) for r in results]


def connect(args: argparse.Namespace) -> tuple[Any, Any]:
    """(client, cluster): the scheduler of --scheduler, else a LocalCluster on this machine
    with --workers processes (default: one per core) of one thread each."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise MarrowError("--engine dask needs the [cluster] extra: "
                          "pip install 'marrow-desktop[cluster]'") from exc
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {args.scheduler} "
                               f"({exc})") from None
    workers = args.workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def dask_results(args: argparse.Namespace, paths: Iterator[Path], classifier: Classifier,
                 store: ResultStore | None, thresholds: QualityThresholds,
                 fields: FieldSearch | None) -> Iterator[ImageResult]:
    """The results of `paths`: stored ones at once, the others as their partitions finish."""
    from distributed import as_completed

    from marrow_desktop.core.batch import stored_result

    spec = classifier.spec
    if spec.path is None:
        raise MarrowError("--engine dask needs a model file the workers can read")
    threads = args.threads if args.threads is not None else (None if args.scheduler else 1)
    job = PartitionJob(str(spec.path.absolute()), spec.identity, spec.domain_sha256,
                       args.backend, threads, args.batch_size, thresholds, fields)
    client, cluster = connect(args)
    finished = as_completed()
    try:
        sent = client.scatter(job, broadcast=True)
        partition: list[str] = []

        def send() -> None:
            finished.add(client.submit(classify_partition, list(partition), sent, pure=False))
            partition.clear()

        for path in paths:
            hit = None
            if store is not None and fields is None:
                hit = stored_result(path, store, spec.model_sha256, spec.domain_sha256,
                                    thresholds)
            if hit is not None:
                yield hit
                continue
            partition.append(str(path))
            if len(partition) >= args.partition:
                send()
        if partition:
            send()
        for future in finished:
            rows = future.result()
            future.release()
            for result, size, mtime_ns in rows:
                if store is not None:
                    store.put(result, size, mtime_ns, spec.name)
                yield result
    finally:
        for future in list(finished.futures):
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
