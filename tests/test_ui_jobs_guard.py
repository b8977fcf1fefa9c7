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
