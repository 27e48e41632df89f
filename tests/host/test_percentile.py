import pytest

from ducorig_host.percentile import percentile


def test_nearest_rank():
    samples = list(range(1, 101))
    assert percentile(samples, 50) == 50
    assert percentile(samples, 95) == 95
    assert percentile(samples, 100) == 100
    assert percentile([3.0], 95) == 3.0
    assert percentile([5, 1, 3], 50) == 3


def test_no_samples_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 50)
