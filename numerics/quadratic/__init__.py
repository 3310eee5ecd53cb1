"""The quadratic f(w) = 1/2 w^T H w under GD (Wang et al. 2021, §3), one role per module:

* :mod:`.stable` -- the closed form, evaluated in log space (accurate to t = 10^9);
* :mod:`.unroll` -- the process: GD unrolled step by step with hand-written reverse and forward
  mode (float32/float64/mpmath);
* :mod:`.reference` -- the high-precision reference (mpmath sums of powers);
* :mod:`.metaopt` -- the optimal step eta*(t) and meta-gradient descent on it.

The three implementations share nothing but :mod:`numerics.validation` and the problem objects
(``../shared/DESIGN.md``, "Independence"). Import the modules you need; nothing is loaded here.
"""
