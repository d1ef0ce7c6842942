"""modspec.validation — training real networks (PyTorch, CPU or GPU) and comparing with theory.

PyTorch is imported lazily, inside the functions that need it.
"""
