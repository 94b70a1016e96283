"""The benchmark command runs end to end at a tiny size (a smoke test; timings are not asserted)."""

from __future__ import annotations

import json

from dapp_eval.bench import STAGES, run_bench


def test_bench_smoke(tmp_path):
    out = tmp_path / "bench.json"
    res = run_bench([400], json_path=out, render=False, echo=lambda _: None)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(res))
    size = saved["sizes"][0]
    assert size["referrals"] == 400
    assert set(size["stages"]) == set(STAGES) - {"render_one_site"}
    assert size["analysis_total_s"] > 0 and size["peak_memory_mb"] > 0
    assert abs(size["analysis_total_s"] - sum(v["seconds"] for v in size["stages"].values())) < 0.01
