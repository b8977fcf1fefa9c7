"""Progress output: tqdm on a terminal, plain lines (no carriage returns) in a log."""

from __future__ import annotations

import io

from explorer.progress import LineProgress, bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_start_line_and_a_done_line_without_carriage_returns():
    log = io.StringIO()
    with bar(total=10, desc="embedding", unit="text", file=log) as b:
        assert isinstance(b, LineProgress)
        for _ in range(10):
            b.update(1)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "embedding: 0/10 text"
    assert lines[-1].startswith("embedding: done, 10 text in ")
    assert len(lines) == 2  # updates within the interval write nothing


def test_a_log_line_per_interval_with_share_and_postfix():
    log = io.StringIO()
    b = bar(total=4, desc="seed 0 anchoral/entropy", unit="round", file=log, interval=0.0,
            initial=1)
    b.set_postfix(share="0.104", f1="0.074")
    b.update(1)
    b.close()
    b.close()  # closing twice writes once
    lines = log.getvalue().splitlines()
    assert lines[0] == "seed 0 anchoral/entropy: 1/4 round (1 already done)"
    assert lines[1].startswith("seed 0 anchoral/entropy: 2/4 round (50 %), ")
    assert " s left" in lines[1]  # 1 round done since the start: ETA from that rate
    assert lines[1].endswith(" share=0.104, f1=0.074")
    assert lines[2].startswith("seed 0 anchoral/entropy: done, 2 round in ")
    assert len(lines) == 3


def test_a_terminal_gets_a_tqdm_bar_and_show_false_is_silent():
    from tqdm.auto import tqdm

    term = _Terminal()
    with bar(total=3, desc="UMAP", unit="row", file=term) as b:
        assert isinstance(b, tqdm) and not b.disable
        b.update(3)
    assert "UMAP" in term.getvalue()
    quiet = io.StringIO()
    with bar(total=3, desc="UMAP", show=False, file=quiet) as b:
        b.update(3)
    assert quiet.getvalue() == ""


def test_hugging_face_bars_are_off_in_a_log_only(monkeypatch):
    from explorer.progress import quiet_library_bars

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    assert quiet_library_bars(_Terminal()) is False
    import os

    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
    assert quiet_library_bars(io.StringIO()) is True
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


def test_rates_read_per_second_or_seconds_per_unit():
    from explorer.progress import _rate

    assert _rate(300, 2.0, "text") == "150.0 text/s"
    assert _rate(3, 138.0, "part") == "46.0 s/part"
    assert _rate(0, 5.0, "part") == "0 part/s"
