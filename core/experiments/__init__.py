"""Controlled experiments built from studies (docs/experiments.md).

- `frequency`: `python -m core experiment frequency --out DIR`, two SynthCXR studies that
  differ only in which finding's signature is drawn for which label column, to separate a
  class's frequency from how hard its signature is to see.
"""
