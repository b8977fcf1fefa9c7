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


def test_a_session_runs_scheduled_callbacks_in_the_order_they_were_scheduled():
    """A callback scheduled while the event loop holds the document is registered only when
    the hold's events are replayed; one scheduled later, outside a hold, is registered first.
    The session's callbacks still run in the order they were scheduled (a Run N's "Done" once
    ran before its second round, whose status then overwrote it)."""
    import threading
    import weakref

    import panel as pn
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from explorer.ui.jobs import make_scheduler

    doc, context = Document(), type("Context", (), {})()
    doc._session_context = weakref.ref(context)
    pn.state._thread_id_[doc] = threading.get_ident()
    ran = []
    with set_curdoc(doc):
        schedule = make_scheduler()
        doc.hold("collect")  # the loop is inside a hold (another callback's changes)
        schedule(lambda: ran.append("round 2"))  # its tick waits in the hold
        doc.callbacks._hold = None  # the hold ends without replaying yet (Panel defers it)...
        schedule(lambda: ran.append("end"))  # ...and the end's tick is registered at once
        doc.callbacks._hold = "collect"
        doc.unhold()  # now round 2's tick is registered, after the end's
    ticks = [cb.callback for cb in doc.session_callbacks]
    assert len(ticks) == 2
    with set_curdoc(doc):
        for tick in ticks:
            tick()
    assert ran == ["round 2", "end"]
