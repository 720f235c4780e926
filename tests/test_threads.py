"""torch thread changes are scoped: restored after the block, after an error, and when blocks
of several threads (dashboard sessions) overlap in any order."""
from __future__ import annotations

import threading

import pytest
import torch

from core import models, pruning
from core.threads import torch_threads


@pytest.fixture
def two_threads():
    """The process at 2 torch threads for the test (the count every check compares with)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def _in_new_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_block_sets_and_restores(two_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        with torch_threads(1):                      # nested in the same thread
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == two_threads
    with torch_threads(None):                       # None / 0: no change at all
        assert torch.get_num_threads() == two_threads
    with torch_threads(0):
        assert torch.get_num_threads() == two_threads


def test_restored_after_an_exception(two_threads):
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == two_threads
    assert _in_new_thread(torch.get_num_threads) == two_threads


def test_overlapping_sessions_leave_the_process_as_it_was(two_threads):
    # A enters, B (started while A is inside, so it begins at 1 thread) enters, A leaves
    # first, then B: a bare save/set/restore per session ends with B restoring A's 1.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def session_a():
        with torch_threads(1):
            a_in.set()
            b_in.wait(10)
            seen["a"] = torch.get_num_threads()
        a_out.set()

    def session_b():
        with torch_threads(1):
            b_in.set()
            a_out.wait(10)
            seen["b"] = torch.get_num_threads()

    ta = threading.Thread(target=session_a)
    ta.start()
    a_in.wait(10)
    tb = threading.Thread(target=session_b)
    tb.start()
    ta.join(10)
    tb.join(10)
    assert seen == {"a": 1, "b": 1}
    assert _in_new_thread(torch.get_num_threads) == two_threads   # a new session's start
    assert torch.get_num_threads() == two_threads


def test_pruning_leaves_the_thread_count(two_threads):
    model = models.create("smallcnn", 3)
    with pruning.pruned_sequence(model, "l1_global", [50, 90], 0) as seq:
        for _ in seq:
            pass
    assert torch.get_num_threads() == two_threads
    with pytest.raises(RuntimeError, match="inside"):
        with pruning.pruned_sequence(model, "l1_global", [50], 0) as seq:
            for _ in seq:
                raise RuntimeError("inside")
    assert torch.get_num_threads() == two_threads
    assert _in_new_thread(torch.get_num_threads) == two_threads
