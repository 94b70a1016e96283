"""comparators.yaml (dapp_eval.commissioner.comparators): user-supplied only, checked, errors name file/row/field."""

import pandas as pd
import pytest

from dapp_eval.commissioner.comparators import attach_comparators, load_comparators
from dapp_eval.errors import DataValidationError


def test_none_shipped_means_an_empty_table():
    assert load_comparators(None).empty
    assert load_comparators({"comparators": []}).empty


def test_yaml_file_read_and_values_in_the_figures_unit(tmp_path):
    p = tmp_path / "comparators.yaml"
    p.write_text("""comparators:
  - figure: completion_rate
    value: 62%
    source: "Evaluation A, table 3"
    year: 2019
    note: 24-week group
  - figure: completion_rate
    value: 55
    source: Evaluation B
    year: 2021
  - figure: cost_per_completion
    value: "£1,200"
    source: Council C annual report
    year: 2023
""", encoding="utf-8")
    c = load_comparators(p)
    assert c["value"].tolist() == [0.62, 0.55, 1200.0]
    assert c["value_text"].tolist() == ["62%", "55%", "£1,200"]
    assert c["name"].iloc[0] == "Completion rate"
    h = pd.DataFrame({"code": ["completion_rate", "cost_per_completion", "referrals"]})
    txt = attach_comparators(h, c)["comparators"].tolist()
    assert txt == ["62% (Evaluation A, table 3, 2019; 24-week group); 55% (Evaluation B, 2021)",
                   "£1,200 (Council C annual report, 2023)", ""]


def test_every_problem_named_with_file_row_and_field(tmp_path):
    p = tmp_path / "my_comparators.yaml"
    p.write_text("""- figure: completion_ratio
  value: 62%
  source: X
  year: 2019
- figure: completion_rate
  value: 0.62
  year: 19
- figure: police_after
  value: 30%
  source: Y
  year: 2020
  colour: red
- figure: referrals
  value: 12.5
  source: Z
  year: 2022
""", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_comparators(p)
    probs = err.value.problems
    got = set(zip(probs["row"], probs["column"]))
    assert got == {(1, "figure"), (2, "value"), (2, "source"), (2, "year"), (3, "colour"), (4, "value")}
    assert (probs["file"] == "my_comparators.yaml").all()
    msg = str(err.value)
    assert "my_comparators.yaml, row 2, column 'source': source is required" in msg
    assert "ambiguous percentage" in msg
    assert "whole number" in msg


def test_percentages_out_of_range_and_money_as_percent_rejected():
    with pytest.raises(DataValidationError, match="between 0 and 100"):
        load_comparators([{"figure": "completion_rate", "value": 130, "source": "S", "year": 2020}])
    with pytest.raises(DataValidationError, match="not a percentage"):
        load_comparators([{"figure": "cost_per_completion", "value": "40%", "source": "S", "year": 2020}])
    with pytest.raises(DataValidationError, match="must be a list"):
        load_comparators({"comparators": {"figure": "completion_rate"}})


def test_bad_yaml_is_a_clear_error(tmp_path):
    p = tmp_path / "comparators.yaml"
    p.write_text("comparators: [figure: completion_rate, value: 62%\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="not valid YAML"):
        load_comparators(p)
    with pytest.raises(FileNotFoundError):
        load_comparators(tmp_path / "missing.yaml")
