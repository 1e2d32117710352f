"""Reading the past and predicting the future: schedules from logs, loss-curve laws, a bound.

Modules: ``lrlab.fit.laws`` (the multi-power law and Tissue et al.'s law: fit, predict),
``lrlab.fit.optimize`` (a schedule optimized under a fitted law), ``lrlab.fit.bound``
(the training-free convex bound of Schaipp et al. 2025). scipy is needed to fit
(``pip install 'lrlab[fit]'``); it is imported only when a fit runs.
"""
