"""Heavy work of every session shares a bounded number of workers, first come first served."""

import threading

import pytest

from explorer.exceptions import ParameterError
from explorer.ui.jobs import Job, WorkerSlots


def test_a_third_unit_waits_for_a_free_slot_and_is_told_so():
    slots = WorkerSlots(2)
    release, entered, waits = threading.Event(), [], []

    def unit(name):
        with slots.slot(on_wait=lambda ahead: waits.append((name, ahead))):
            entered.append(name)
            release.wait(10)

    threads = [threading.Thread(target=unit, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    while len(entered) < 2:
        threading.Event().wait(0.01)
    late = threading.Thread(target=unit, args=("c",))
    late.start()
    while not waits:
        threading.Event().wait(0.01)
    assert entered == ["a", "b"] or entered == ["b", "a"]
    assert waits == [("c", 1)] and slots.waiting == 1
    release.set()
    for t in threads + [late]:
        t.join(10)
    assert sorted(entered) == ["a", "b", "c"] and slots.waiting == 0


def test_zero_workers_is_refused():
    with pytest.raises(ParameterError, match="workers=0 must be >= 1"):
        WorkerSlots(0)


def test_a_job_waiting_for_a_slot_says_so(monkeypatch):
    import explorer.ui.jobs as jobs

    monkeypatch.setattr(jobs, "SLOTS", WorkerSlots(1))
    first, second = Job(), Job()
    go, started = threading.Event(), threading.Event()

    def hold(gen):
        started.set()
        go.wait(10)

    statuses = []
    assert first.run("Round of A…", hold, lambda cb: cb())
    assert started.wait(10)
    assert second.run("Round of B…", lambda gen: jobs.bind(second.finish, gen, "done"),
                      lambda cb: (cb(), statuses.append(second.status)))
    while not statuses:
        threading.Event().wait(0.01)
    assert statuses[0].startswith("Waiting for a free worker (1 in line; the server computes 1 "
                                  "at a time)")
    go.set()
    first.wait(10)
    second.wait(10)
    assert not second.busy and second.status == "Done" and second.error == ""
