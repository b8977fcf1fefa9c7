"""Pages opening one server at once: a page builds its rest only once no other page is drawing."""

from __future__ import annotations

from explorer.ui.opening import Openings


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_a_page_alone_waits_for_nobody():
    o = Openings(patience_s=15)
    o.opened("a")
    assert not o.others_drawing("a")


def test_a_drawn_page_waits_while_another_still_draws_then_goes_on():
    clock = Clock()
    o = Openings(patience_s=15, clock=clock)
    o.opened("a")
    o.opened("b")
    o.drawn("a")
    assert o.others_drawing("a")  # b has not drawn its map yet
    assert not o.others_drawing("b")  # a has
    o.drawn("b")
    assert not o.others_drawing("a")


def test_a_page_that_never_draws_holds_others_up_for_patience_only():
    clock = Clock()
    o = Openings(patience_s=15, clock=clock)
    o.opened("closed tab")
    o.opened("a")
    o.drawn("a")
    clock.t += 14.9
    assert o.others_drawing("a")
    clock.t += 0.2
    assert not o.others_drawing("a")


def test_drawn_twice_or_unknown_is_harmless():
    o = Openings()
    o.drawn("never opened")
    o.opened("a")
    o.drawn("a")
    o.drawn("a")
    assert not o.others_drawing("b")
