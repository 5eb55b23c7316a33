"""mailstore.restore's batches without Dovecot: bounded in messages and in bytes (a batch is
held in memory, with the next one read ahead), in the plan's order, every message once."""

from mailstore.restore import _batches


def test_batches_are_bounded_in_messages_and_bytes_and_keep_every_message_once():
    missing = [(uid, 100) for uid in range(1, 8)] + [(8, 5000), (9, 100), (10, 100)]
    batches = list(_batches(missing, count=3, size=350))
    assert batches == [[1, 2, 3], [4, 5, 6], [7], [8], [9, 10]]  # 8 alone: bigger than the bound
    assert [uid for batch in batches for uid in batch] == [uid for uid, _size in missing]
    assert list(_batches([], count=3, size=350)) == []
