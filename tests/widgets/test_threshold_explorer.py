"""Tests of the failure-detector explorer: the menu and the slider move along the curves, and
each change runs the detector chosen at the setting chosen."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from distlab.membership.runs import slow_or_dead  # noqa: E402
from distlab.widgets.detectors import ThresholdExplorer  # noqa: E402

CURVES = {"fixed timeout": [(100, 4.5, 186.0), (200, 2.5, 286.0), (400, 0.5, 486.0)],
          "phi": [(2, 4.0, 220.0), (8, 2.7, 361.0)]}


@pytest.fixture
def explorer() -> ThresholdExplorer:
    asked = []

    def run(detector, setting):
        asked.append((detector, setting))
        result = (slow_or_dead(1, setting) if detector == "fixed timeout"
                  else slow_or_dead(1, phi=setting))
        return result.spikes, result.detector.suspicions, 10_000.0

    explorer = ThresholdExplorer(CURVES, run, unit={"fixed timeout": " ms"}, index=1)
    explorer.asked = asked
    return explorer


def test_it_starts_at_the_setting_given_with_a_picture_and_a_summary(explorer):
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.asked == [("fixed timeout", 200)]
    assert ("fixed timeout 200 ms: 2.5 false suspicions per run, a crash detected after 286 "
            "ms") in explorer.status.value


def test_the_slider_moves_along_the_curve_and_runs_that_setting(explorer):
    explorer.slider.value = 2
    assert explorer.asked[-1] == ("fixed timeout", 400)
    assert "fixed timeout 400 ms: 0.5 false suspicions" in explorer.status.value


def test_the_menu_switches_detector_and_the_slider_to_its_settings(explorer):
    explorer.menu.value = "phi"
    assert (explorer.detector, explorer.index) == ("phi", 0)
    assert explorer.slider.max == 1 and explorer.slider.value == 0
    assert explorer.asked[-1] == ("phi", 2)
    assert "phi 2: 4.0 false suspicions" in explorer.status.value


def test_a_bad_choice_is_shown_as_an_error_not_lost(explorer):
    explorer._act(lambda: explorer.choose("phi", 7))
    assert "phi has settings 0 to 1; got 7" in explorer.status.value


def test_bad_arguments_are_refused_with_what_to_give():
    with pytest.raises(ValueError, match="at least one detector"):
        ThresholdExplorer({}, lambda d, s: ([], [], 1.0))
    with pytest.raises(TypeError, match="run\\(name, setting\\)"):
        ThresholdExplorer(CURVES, "not a function")
    with pytest.raises(ValueError, match="no detector 'pareto'"):
        ThresholdExplorer(CURVES, lambda d, s: ([], [], 1.0), detector="pareto")
