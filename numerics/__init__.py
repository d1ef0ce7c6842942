"""modspec.numerics — code generation, cached compiled functions, ODE integration, simulators.

Depends on :mod:`modspec.theory`; never imports PyTorch.
"""
