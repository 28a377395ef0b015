"""Sphinx configuration."""

project = "jupyter-fsspec-proxy"
author = "jupyter-fsspec-proxy developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
myst_heading_anchors = 3
