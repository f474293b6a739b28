"""Figures. The only sub-package that draws."""
