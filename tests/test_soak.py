"""A short soak of the signaling server (the full one is `python -m bench.soak`)."""

from bench.soak import soak


def test_short_soak_loses_nothing_and_leaves_no_state():
    results, _ = soak(clients=40, rooms=8, rounds=2, signals=20)
    for result in results:
        assert result.errors == []
        assert result.signals_received == result.signals_sent == 40 * 20
        assert (result.lost, result.misdelivered, result.out_of_order) == (0, 0, 0)
        assert result.stats_after == {"rooms": 0, "members": 0}
        assert max(result.ack_ms) < 2000  # the server kept answering within a couple of seconds
