"""Learning-rate schedules for a range test's answer, their wrappers, and rescaling.

:mod:`~gluon_lrfinder.schedules.cycles` holds the cyclical, one-cycle and cosine schedules,
:mod:`~gluon_lrfinder.schedules.wrappers` the warm-up, cool-down and offset wrappers,
:mod:`~gluon_lrfinder.schedules.rescale` the rescaling of any attached ``LRScheduler`` around a
new rate. The public classes are reached from the package: ``from gluon_lrfinder import
OneCycleSchedule``.
"""
