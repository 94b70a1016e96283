"""Sphinx configuration for the dapp_eval documentation (``make docs``; warnings are errors)."""

import dapp_eval

project = "dapp_eval"
author = "dapp_eval developers"
release = version = dapp_eval.__version__
copyright = "dapp_eval developers, MIT licence"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
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
