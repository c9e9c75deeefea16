"""The core of smoothl1: the table of losses (``losses``), the factory that makes every loss's
public functions from it (``functions``), and what those functions run: validation
(``validation``, ``overlap``), the choice of kernel build and its threads (``dispatch``,
``threads``), and the functions themselves (``api``, ``grad_hess``), which ``smoothl1`` exports.
"""
