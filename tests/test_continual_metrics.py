"""continual_metrics on accuracy matrices computed by hand."""

import math

import numpy as np
import pytest
from mllm_forgetting.metrics.continual import continual_metrics, pretrained_retention

# rows: pre-trained, after stage 1, 2, 3; columns: tasks 1, 2, 3
R3 = [
    [10, 20, 30],
    [80, 25, 30],
    [60, 70, 35],
    [50, 40, 90],
]


def test_three_tasks_by_hand():
    m = continual_metrics(R3)
    assert m["Last"] == m["MFN"] == pytest.approx((50 + 40 + 90) / 3)
    # stage 1: 80; stage 2: (60 + 70) / 2 = 65; stage 3: 60
    assert m["MAA"] == pytest.approx((80 + 65 + 60) / 3)
    assert m["MFT"] == pytest.approx((80 + 70 + 90) / 3)
    assert m["BWT"] == pytest.approx(((50 - 80) + (40 - 70)) / 2)  # -30
    # task 1: best 80 (stages 1-2), last 50; task 2: best 70, last 40
    assert m["F"] == pytest.approx(((80 - 50) + (70 - 40)) / 2)
    # task 2 before its stage: 25 vs 20; task 3: 35 vs 30
    assert m["FWT"] == pytest.approx(((25 - 20) + (35 - 30)) / 2)
    assert continual_metrics(R3, bwt_over="all")["BWT"] == pytest.approx(-60 / 3)


def test_four_tasks_by_hand_where_a_task_peaks_after_its_stage():
    R4 = np.array(
        [
            [0, 0, 0, 0],
            [50, 10, 0, 5],
            [60, 40, 5, 0],  # task 1 improves after its own stage: its best is 60, not 50
            [30, 45, 70, 10],
            [20, 30, 60, 80],
        ]
    )
    m = continual_metrics(R4)
    assert m["Last"] == pytest.approx(190 / 4)
    assert m["MAA"] == pytest.approx((50 + 50 + (30 + 45 + 70) / 3 + 190 / 4) / 4)
    assert m["MFT"] == pytest.approx((50 + 40 + 70 + 80) / 4)
    assert m["BWT"] == pytest.approx(((20 - 50) + (30 - 40) + (60 - 70)) / 3)
    assert continual_metrics(R4, bwt_over="all")["BWT"] == pytest.approx(-50 / 4)
    # bests: task 1 max(50, 60, 30) = 60; task 2 max(40, 45) = 45; task 3 70
    assert m["F"] == pytest.approx(((60 - 20) + (45 - 30) + (70 - 60)) / 3)
    assert m["FWT"] == pytest.approx(((10 - 0) + (5 - 0) + (10 - 0)) / 3)


def test_one_task_and_bad_matrices():
    m = continual_metrics([[10], [60]])
    assert m["Last"] == m["MFT"] == m["MAA"] == 60
    assert math.isnan(m["BWT"]) and math.isnan(m["F"]) and math.isnan(m["FWT"])
    assert continual_metrics([[10], [60]], bwt_over="all")["BWT"] == 0
    with pytest.raises(ValueError, match=r"\(T \+ 1\) x T"):
        continual_metrics([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="bwt_over"):
        continual_metrics(R3, bwt_over="earlier")


def test_pretrained_retention_in_points_and_relative_percent():
    stages = pretrained_retention([64.535, 42.83, 60.0])
    assert stages[0]["stage"] == 1 and stages[0]["points"] == pytest.approx(-21.705)
    assert stages[0]["relative"] == pytest.approx(-33.63, abs=0.01)  # the MDGD paper's 33.63% drop
    assert stages[1]["points"] == pytest.approx(60.0 - 64.535)
