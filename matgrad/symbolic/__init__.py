"""Symbolic (sympy) support for matgrad: imported only on demand, never by ``import matgrad``."""
