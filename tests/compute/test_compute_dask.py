"""Tests of distlab.compute.dask_engine: the toy's map and reduce tasks on a real Dask
cluster of two worker processes on loopback compute what the sequential reference computes,
and the job survives a worker killed in the middle of it.

These start real processes: they are marked ``real_services`` (select or skip them with
``-m real_services``) and bounded by timeouts; they run in ``make test``."""

from __future__ import annotations

import os
import warnings

import pytest

from distlab.compute.jobs import documents, inverted_index, word_count
from distlab.compute.model import run_sequential

distributed = pytest.importorskip("distributed")

from distlab.compute.dask_engine import (SLOW_SCRATCH, dask_cluster,  # noqa: E402
                                         kill_a_worker_holding, placements, submit_job)

pytestmark = [pytest.mark.timeout(240), pytest.mark.real_services]
CORPUS = documents(8, 150, seed=1)


@pytest.fixture(scope="module")
def client():
    with dask_cluster(workers=2) as client:
        yield client


def test_the_cluster_listens_on_loopback_with_two_worker_processes(client):
    info = client.scheduler_info()
    assert info["address"].startswith("tcp://127.0.0.1:")
    assert len(info["workers"]) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
    assert len(set(client.run(os.getpid).values())) == 2   # two processes


@pytest.mark.parametrize("job", [word_count, inverted_index], ids=["word_count", "index"])
def test_dask_computes_what_the_sequential_reference_computes(client, job):
    submitted = submit_job(client, job, CORPUS, 3, tag=f"ref-{job.name.replace(' ', '-')}")
    assert submitted.result(timeout=60) == run_sequential(job, CORPUS, 3).as_dict()


def test_every_task_is_computed_once_by_some_worker(client):
    submitted = submit_job(client, word_count, CORPUS, 3, tag="placed")
    submitted.result(timeout=60)
    placed = placements(client, submitted)
    assert sorted(placed.computed) == sorted(submitted.keys) and len(placed.computed) == 11
    assert sum(placed.tasks_per_worker().values()) == 11
    assert set(placed.tasks_per_worker()) <= set(client.scheduler_info()["workers"])


def test_a_killed_workers_results_are_computed_again_and_the_answer_is_right(client):
    submitted = submit_job(client, word_count, CORPUS, 3, tag="kill", pause=0.4)
    victim, held = kill_a_worker_holding(client, submitted.maps)
    assert held
    assert submitted.result(timeout=120) == run_sequential(word_count, CORPUS, 3).as_dict()
    computed = placements(client, submitted).computed
    assert all(any(worker != victim for worker in computed.get(key, ())) for key in held)


def test_bad_arguments_are_refused_with_a_message(client):
    with pytest.raises(ValueError, match="at least one input"):
        submit_job(client, word_count, {})
    with pytest.raises(ValueError, match="at least one worker"):
        with dask_cluster(workers=0):
            pass


def test_a_slow_scratch_directory_gives_no_warning_while_the_cluster_starts(slow_dask_scratch):
    # a busy machine made lab 6's check print Dask's warning, now and then: noise, with the
    # time it took in it, that strict nbval did not expect
    late = f"{SLOW_SCRATCH}. (1.10s)"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with dask_cluster(workers=1):
            pass
        warnings.warn(late, UserWarning)  # once the cluster is started, it is shown again
    assert slow_dask_scratch, "the cluster made no scratch directory in this process"
    assert [str(w.message) for w in seen if str(w.message).startswith(SLOW_SCRATCH)] == [late]


def test_a_cluster_beside_another_gives_no_warning_and_its_own_free_port(dask_default_port_taken):
    # with a second Dask cluster on the machine (another test file running beside, as in
    # make test), 06.05's cluster cell printed "Port 8787 is already in use" on stderr: the
    # scheduler's HTTP server asked for Dask's fixed default port, found it taken and warned
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with dask_cluster(workers=1) as client:
            info = client.scheduler_info()
    assert [f"{w.category.__name__}: {w.message}" for w in seen] == []
    assert info["services"]["dashboard"] != dask_default_port_taken   # the HTTP server's port


def test_a_cluster_started_in_a_forked_process_runs_its_jobs(client):
    # lab 6's check forks the grader: after a job had run in the grader's process, the cluster
    # that the forked run started never ran a job (Dask's offload thread stayed in the parent)
    submit_job(client, word_count, CORPUS, 3, tag="before-fork").result()
    expected = run_sequential(word_count, CORPUS, 3).as_dict()
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its own cluster ran the job right
        code = 1
        try:
            with dask_cluster(workers=1) as child_client:
                submitted = submit_job(child_client, word_count, CORPUS, 3, tag="in-child")
                code = 0 if submitted.result(timeout=60) == expected else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
