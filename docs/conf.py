"""Sphinx configuration for the dapp_eval documentation (``make docs``; warnings are errors)."""

import shutil
from pathlib import Path

import dapp_eval

# The narrated notebooks are shown with the outputs stored in notebooks/ (nbval checks those outputs
# against a fresh run in `make test`): copied here at each build, never executed by Sphinx.
_DOCS = Path(__file__).resolve().parent
shutil.rmtree(_DOCS / "notebooks", ignore_errors=True)
shutil.copytree(_DOCS.parent / "notebooks", _DOCS / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

project = "dapp_eval"
author = "dapp_eval developers"
release = version = dapp_eval.__version__
copyright = "dapp_eval developers, MIT licence"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",  # Markdown pages (MyST) and the notebooks with their stored outputs
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
nb_execution_mode = "off"  # stored outputs only: the docs build runs no analysis
nb_merge_streams = True
exclude_patterns = ["_build"]
root_doc = "index"

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "dapp_eval"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []
# the docs are read offline too: no external fonts, analytics or version switcher
html_theme_options["use_edit_page_button"] = False
