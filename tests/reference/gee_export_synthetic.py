"""Write the answers and weights that safety.wave_model fits its GEEs to on data_synthetic.

Run from the project root (before tests/reference/gee_reference.R):
    .venv/bin/python tests/reference/gee_export_synthetic.py
"""

from dapp_eval.analyses import safety
from dapp_eval.data.io import load_programme

res = safety.wave_model(load_programme("data_synthetic"), behaviour="physical_violence")
gd = res.tables["gee_data"]
gd = gd.assign(physical_violence=gd["physical_violence"].astype(float))
gd[["partner_id", "referral_id", "wave", "physical_violence", "weight"]].to_csv(
    "tests/reference/gee_synthetic_data.csv", index=False, float_format="%.17g")
