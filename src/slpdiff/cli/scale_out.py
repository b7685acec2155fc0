"""``--scheduler``: ``eval --points`` and ``optimize --data`` on a Dask cluster
(:mod:`slpdiff.rows.distributed`), with the meaning and the output of the embedded path.

A cluster started here (``local:N``) is stopped when the run ends, however it ends (an error,
Ctrl-C): its worker processes are this process's children and go with it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import click

from .options import rows_failure, warn_about_rows
from .progress import Progress


@contextmanager
def cluster(scheduler: str):
    """A Dask client for ``scheduler``; a cluster started for it is shut down at the end."""
    from ..rows.distributed import connect

    client, started = connect(scheduler)
    try:
        yield client
    finally:
        try:
            client.close()
        finally:
            if started is not None:
                started.close()


class PartProgress(Progress):
    """``12/40 partitions  1,234,567 rows  dashboard http://...`` on a terminal."""

    def __init__(self, total: int, link: str):
        super().__init__(0.5, 0.2)
        self.total, self.link, self.done, self.rows = total, link, 0, 0

    def update(self, rows: int) -> None:
        self.done += 1
        self.rows += rows
        if self.due():
            link = f"  dashboard {self.link}" if self.link else ""
            self.draw(f"{self.done}/{self.total} partitions  {self.rows:,} rows{link}")


def _job(program, constants, wrt, columns, keep, required=True):
    from ..language.printer import to_slp
    from ..rows.distributed import Job

    source = program.source
    return Job(source.text if source is not None else to_slp(program),
               source.name if source is not None else "<program>",
               tuple(constants.items()), tuple(wrt), tuple(columns), keep, required)


def _paths(path: str, option: str, given_format: str | None):
    from ..rows.sources import expand, formats_of

    if path == "-":
        raise click.UsageError(f"{option} - cannot be split between workers: give files")
    paths = expand(path)
    return paths, formats_of(paths, given_format)[0]


def _each(client, job, parts):
    """``each(name, *args)`` for :func:`slpdiff.rows.partitioned.totals`: a method of every
    partition, on the cluster, results in partition order."""
    from ..rows.distributed import method_task

    def each(name, *args):
        n = len(parts)
        futures = client.map(method_task, [job] * n, parts, [name] * n,
                             *[[a] * n for a in args], pure=False)
        return client.gather(futures)
    return each


def eval_distributed(scheduler, program, constants, wrt, fmt, strict, points, points_format,
                     keep, output, chunk_rows, asked) -> None:
    """``slpdiff eval --points ... --scheduler ...``; ``asked``: the results beyond first
    derivatives (:class:`~slpdiff.rows.stream.Asked`), for programs without reductions."""
    from ..rows import distributed as dist
    from ..rows.partitioned import Partitioned, totals
    from ..rows.stream import FIRST
    from .rows_io import data_reader, warn_ignored

    paths, fmt_in = _paths(points, "--points", points_format)
    with data_reader(program, points, points_format, constants, keep, "--points") as reader:
        kept = list(reader.extra) if keep else []
        columns = list(reader.columns)
        if reader.extra and not keep:
            warn_ignored(reader, reader.extra)
    directory = output if output is not None and (output.endswith(os.sep) or
                                                  os.path.isdir(output)) else None
    if directory is not None:
        os.makedirs(directory, exist_ok=True)
        fmt = fmt if fmt in ("csv", "tsv", "jsonl", "parquet") else "csv"
    partitioned = Partitioned(program, columns)
    partitioned.refuse_derivatives(bool(wrt))
    if asked != FIRST and partitioned.reductions:
        raise click.UsageError("--mode forward, --direction, --hessian and --hvp through a "
                               "reduction over rows are evaluated here, not on a cluster: leave "
                               "out --scheduler (or unset SLPDIFF_SCHEDULER)")
    parts = dist.plan(paths, fmt_in)
    job = _job(program, constants, wrt, columns, keep)
    with cluster(scheduler) as client:
        shared = [name for name in wrt if name not in columns]
        reductions, sums, rows = totals(partitioned, _each(client, job, parts), shared)
        futures = client.map(dist.eval_task, [job] * len(parts), parts,
                             [reductions] * len(parts), [sums] * len(parts),
                             [rows] * len(parts), [fmt] * len(parts), [strict] * len(parts),
                             [kept] * len(parts), [directory] * len(parts), range(len(parts)),
                             [asked] * len(parts), pure=False)
        progress = PartProgress(len(parts), dist.dashboard(client))
        try:
            result = _write_parts(futures, program, wrt, fmt, kept, output, directory, progress,
                                  asked)
        finally:
            progress.clear()
    if result.stopped:
        raise rows_failure(program, result)
    warn_about_rows(program, result)


def _write_parts(futures, program, wrt, fmt, kept, output, directory, progress, asked):
    """Write each part's records in order (or rename the parts into ``directory`` once all are
    done); the combined account of how the evaluation went."""
    from ..rows.stream import BatchResult

    total = BatchResult()
    moves = []
    try:
        if directory is not None:
            for future in futures:
                moved, result = future.result()
                moves.append(moved)
                _add(total, result, program)
                progress.update(result.rows)
                if result.stopped:
                    break
            if not total.stopped:
                for temporary, final in moves:
                    os.replace(temporary, final)
                moves = []
            return _finished(total)
        from .rows_io import record_sink

        with record_sink(fmt, output, program, wrt, kept, asked) as sink:
            for future in futures:
                records, result = future.result()
                sink.write_made(records)
                future.release()
                _add(total, result, program)
                progress.update(result.rows)
                if result.stopped:
                    break
            if total.stopped:  # raised inside the block: -o leaves no partial file
                raise rows_failure(program, total)
        return _finished(total)
    finally:
        for temporary, _ in moves:  # a failed run leaves no part under its final name
            try:
                os.unlink(temporary)
            except OSError:
                pass
        for future in futures:
            future.cancel()


def _add(total, result, program) -> None:
    """Fold one partition's account into the run's: rows add, and of the non-finite values and
    kinks the earliest node's is kept, counts totalled (partitions come in row order)."""
    from ..rows.distributed import where_in_file

    total.rows += result.rows
    total.stopped = total.stopped or result.stopped
    for key, (rows, where) in result.beyond.items():  # the first partition's row is the first
        known = total.beyond.get(key)
        total.beyond[key] = (rows, where_in_file(where)) if known is None else \
            (known[0] + rows, known[1])
    for w, where in zip(result.warnings, result.where, strict=True):
        w = w.__class__(**{**w.__dict__, "program": program})
        known = [k for k, t in enumerate(total.warnings) if t.kind == w.kind]
        if not known:
            total.warnings.append(w)
            total.where.append(where_in_file(where))
        elif w.position < total.warnings[known[0]].position:
            total.warnings[known[0]], total.where[known[0]] = w, where_in_file(where)
        elif w.position == total.warnings[known[0]].position:
            total.warnings[known[0]].count += w.count
    for hit, where in zip(result.kinks, result.kink_where, strict=True):
        hit = hit.__class__(**{**hit.__dict__, "program": program})
        same = [k for k, h in enumerate(total.kinks) if h.position == hit.position]
        if same:
            total.kinks[same[0]].count += hit.count
            total.kinks[same[0]].rows += hit.rows
        else:
            total.kinks.append(hit)
            total.kink_where.append(where_in_file(where))


def _finished(total):
    order = sorted(range(len(total.kinks)), key=lambda k: total.kinks[k].position)
    total.kinks = [total.kinks[k] for k in order]
    total.kink_where = [total.kink_where[k] for k in order]
    return total


@contextmanager
def fit_on_cluster(scheduler, program, data, data_format, point, batch_size, seed):
    """``optimize --data ... --scheduler ...``: the data loaded once into the workers' memory;
    yields the data's column names and an evaluator for
    :func:`slpdiff.optimize.descent.optimize` that computes the objective and its gradient by a
    map-reduce over the partitions (of a minibatch of each, with ``batch_size``)."""
    import numpy as np

    from ..rows import distributed as dist
    from ..rows.partitioned import Partitioned, totals
    from .rows_io import check_data_columns, data_reader, warn_ignored

    paths, fmt_in = _paths(data, "--data", data_format)
    with data_reader(program, data, data_format, point, False, "--data", required=False) as reader:
        columns = list(reader.columns)
        if reader.extra:
            warn_ignored(reader, reader.extra)
        check_data_columns(reader, program, point)
    parts = dist.plan(paths, fmt_in)
    job = _job(program, {}, (), columns, False, required=False)
    partitioned = Partitioned(program, columns)
    partitioned.refuse_derivatives(True)  # a fit follows the gradient
    with cluster(scheduler) as client:
        loaded = client.map(dist.load_task, [job] * len(parts), parts, pure=False)
        sizes = np.array(client.gather(client.map(dist.rows_task, loaded, pure=False)))
        if not sizes.sum():
            raise click.UsageError(f"{reader.name} has no rows of data")
        draws = iter(range(1 << 62))

        def evaluate_at(at, names, objective):
            chunks = loaded
            if batch_size:
                draw = next(draws)
                counts = np.random.default_rng([seed, draw]).multivariate_hypergeometric(
                    sizes, min(batch_size, int(sizes.sum())))
                chunks = client.map(dist.sample_task, loaded, counts, [seed] * len(parts),
                                    [draw] * len(parts), range(len(parts)), pure=False)
            params = {k: float(v) for k, v in at.items() if k not in columns}

            def each(name, *args):
                n = len(chunks)
                return client.gather(client.map(
                    dist.chunk_method_task, [job] * n, chunks, [params] * n, [name] * n,
                    *[[a] * n for a in args], pure=False))

            return partitioned.objective(totals(partitioned, each, names), at, objective,
                                         names)

        yield columns, evaluate_at
