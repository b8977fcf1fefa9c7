"""A job's result callback that raises on the event loop ends the job with the error."""

import pytest

from explorer.ui.jobs import Job


def test_a_raising_result_callback_ends_the_job_with_its_error():
    job = Job()
    calls = []

    def schedule(cb):
        calls.append(cb)

    def work(gen):
        def result():
            raise KeyError("view")
        return result

    assert job.run("Working…", work, schedule)
    job.wait(30)
    assert job.busy and len(calls) == 1
    with pytest.raises(KeyError):
        calls[0]()  # the loop logs it; the page is told and no longer busy
    assert not job.busy and "KeyError" in job.error


def test_messages_panel_left_queued_are_sent(monkeypatch):
    """Panel 1.9 can leave a held callback's messages queued with no writer to send them
    (a resumed session then stuck at its last progress line): the hold's exit restarts one."""
    import asyncio

    from panel.io import document as pdoc

    from explorer.ui import jobs

    class Doc:  # Panel keys its queues weakly
        pass

    doc, started = Doc(), []
    monkeypatch.setattr(pdoc, "_dispatch_write_task",  # a writer: sees the flag, sends, ends
                        lambda d, fn, *a: (started.append(pdoc._WRITE_BLOCK.get(d)),
                                           pdoc._WRITE_MSGS.pop(d, None)))

    async def scenario():
        pdoc._WRITE_MSGS[doc] = {"conn": ["msg"]}   # queued, and no writer flag: stranded
        pdoc._WRITE_BLOCK.pop(doc, None)
        jobs.flush_stranded_writes(doc, interval=0.01)
        jobs.flush_stranded_writes(doc, interval=0.01)  # one watcher per document
        for _ in range(100):
            if started:
                break
            await asyncio.sleep(0.01)

    try:
        asyncio.run(scenario())
    finally:
        pdoc._WRITE_MSGS.pop(doc, None)
        pdoc._WRITE_BLOCK.pop(doc, None)
    assert started == [True]  # one writer, started with its flag set
    assert id(doc) not in jobs._WATCHING


def test_nothing_queued_starts_no_writer(monkeypatch):
    from panel.io import document as pdoc

    from explorer.ui import jobs

    class Doc:
        pass

    monkeypatch.setattr(pdoc, "_dispatch_write_task", lambda *a: pytest.fail("started"))
    jobs.flush_stranded_writes(Doc())  # no message queued: returns at once
