import pytest

from fcplan.core.frequency import season_length


# Half-hourly (and 15-minute, 2-hourly) data has a daily season of one day of steps: it was 1
# (no daily cycle in the seasonal naive, Theta, the seasonal lags or the MASE scale).
# Monthly data has a season of 12: the baselines said 1 and the features 12 before both
# read this one function.
@pytest.mark.parametrize(
    ("freq", "season"),
    [("D", 7), ("W-WED", 52), ("h", 24), ("MS", 12), ("ME", 12), ("QE", 4), ("YE", 1), ("min", 1), ("2D", 1),
     ("30min", 48), ("15min", 96), ("2h", 12), ("5min", 288), ("7min", 1), ("90min", 16)],
)
def test_season_length_follows_the_frequency(freq, season):
    assert season_length(freq) == season
