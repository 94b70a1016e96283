"""Old import paths (issue 30): each warns (removal in 0.3) and re-exports its new module; nothing else warns.

Written by scripts/move_layout.py. The only test that imports a shim.
"""

import importlib
import re
import subprocess
import sys

import pytest

#: old import path (dapp_eval.<name>) -> the module it re-exports
SHIMS = {
    "attrition": 'dapp_eval.analyses.attrition',
    "comparators": 'dapp_eval.commissioner.comparators',
    "compare": 'dapp_eval.analyses.compare',
    "delivery": 'dapp_eval.analyses.delivery',
    "episodes": 'dapp_eval.analyses.episodes',
    "equality": 'dapp_eval.analyses.equality',
    "evaluation": 'dapp_eval.data.evaluation',
    "families": 'dapp_eval.analyses.families',
    "followup": 'dapp_eval.analyses.followup',
    "funnel": 'dapp_eval.analyses.funnel',
    "glossary": 'dapp_eval.commissioner.glossary',
    "headlines": 'dapp_eval.commissioner.headlines',
    "identifiers": 'dapp_eval.data.identifiers',
    "instruments": 'dapp_eval.data.instruments',
    "io": 'dapp_eval.data.io',
    "lmm": 'dapp_eval.estimators.lmm',
    "mapdraft": 'dapp_eval.data.mapdraft',
    "mapping": 'dapp_eval.data.mapping',
    "plan": 'dapp_eval.data.plan',
    "plotting": 'dapp_eval.analyses.plotting',
    "privacy": 'dapp_eval.data.privacy',
    "quality": 'dapp_eval.data.quality',
    "reoffending": 'dapp_eval.analyses.reoffending',
    "risk": 'dapp_eval.analyses.risk',
    "safety": 'dapp_eval.analyses.safety',
    "schema": 'dapp_eval.data.schema',
    "stats": 'dapp_eval.estimators.proportions',
    "survival": 'dapp_eval.estimators.survival',
    "synthetic_v2": 'dapp_eval.synthetic.v2',
    "trends": 'dapp_eval.analyses.trends',
    "verdict": 'dapp_eval.commissioner.verdict',
    "yearly": 'dapp_eval.analyses.yearly',
}


@pytest.fixture
def forget_old_path():
    """The shim is imported afresh (so it warns here) and forgotten afterwards: later tests in this process
    that ask the package for ``dapp_eval.<old>`` get the moved module again, not the shim."""
    import dapp_eval

    def forget(old):
        sys.modules.pop(f"dapp_eval.{old}", None)
        vars(dapp_eval).pop(old, None)

    names = []
    yield lambda old: (names.append(old), forget(old))
    for old in names:
        forget(old)


@pytest.mark.parametrize(("old", "new"), sorted(SHIMS.items()))
def test_shim_warns_and_reexports(old, new, forget_old_path):
    forget_old_path(old)
    with pytest.warns(DeprecationWarning, match=rf"dapp_eval\.{old} is deprecated .*0\.3.*{re.escape(new)}"):
        shim = importlib.import_module(f"dapp_eval.{old}")
    module = importlib.import_module(new)
    names = [n for n in vars(module) if not (n.startswith("__") and n.endswith("__"))]
    assert names
    assert [n for n in names if getattr(shim, n) is not getattr(module, n)] == []
    public = getattr(module, "__all__", None) or [n for n in names if not n.startswith("_")]
    assert set(public) <= set(vars(shim))  # the public names are the shim's own (star import), not only reachable


def test_package_attributes_use_the_new_paths():
    # dapp_eval.<old name> (as the notebooks once wrote) gives the moved module itself, without a warning
    code = ("import sys, warnings; warnings.simplefilter('error', DeprecationWarning); import dapp_eval; "
            f"mods = {{o: getattr(dapp_eval, o) for o in {sorted(SHIMS)!r}}}; "
            "print(sorted(o for o, m in mods.items() if m.__name__ == 'dapp_eval.' + o))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


RELEASE = """
import sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import dapp_eval
    from dapp_eval import synthetic
    from dapp_eval.report.render import render_release
    synthetic.generate(sys.argv[1] + "/data", referrals=60, sites=2, seed=3)
    render_release(sys.argv[1] + "/data", sys.argv[1] + "/out", progress=False, jobs=1)
deprecations = [f"{w.message} ({w.filename}:{w.lineno})" for w in caught if issubclass(w.category, DeprecationWarning)]
old = sorted(m for m in sys.modules if m in {"dapp_eval." + name for name in sys.argv[2].split(",")})
print(deprecations, old)
"""


def test_import_and_a_release_warn_of_no_deprecation(tmp_path):
    # a fresh interpreter: `import dapp_eval`, the generator and a whole release load no old path and warn nothing
    out = subprocess.run([sys.executable, "-c", RELEASE, str(tmp_path), ",".join(SHIMS)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
