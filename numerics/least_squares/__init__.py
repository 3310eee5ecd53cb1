"""Least squares (1/2n)||y - Xw||^2 (Wang et al. 2021, §4), one role per module:

* :mod:`.closed_form` -- GD in closed form in the eigenbasis of X^T X / n;
* :mod:`.simulation` -- the process: GD unrolled step by step on (X, y), with its tangent;
* :mod:`.reference` -- the same unroll in mpmath;
* :mod:`.moments` -- exact first and second moments of SGD (finite set, Gaussian, additive noise);
* :mod:`.montecarlo` -- SGD simulated path by path (the process for :mod:`.moments`);
* :mod:`.metaopt` -- tasks, train-by-train and train-by-validation meta-objectives.

Closed forms, simulations and references share nothing but :mod:`numerics.validation` and the
problem objects. Nothing is loaded here.
"""
