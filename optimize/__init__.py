"""The optimisation maths, built on the simulator: the cvxpy glide-path search
(:mod:`optimize.glidepath`) and fund design (:mod:`optimize.fund_design`), which share one
trust-region SCP driver and its building blocks (:mod:`optimize.scp`), the baselines the
search is compared with (:mod:`optimize.baselines`) and its quality bars
(:mod:`optimize.validation`).

It imports ``strategies`` and ``backtest`` and never the app (``glidelab``): study files,
the command and the study runner live there.
"""

# Before any numba import under this package (optimize.dp_kernel): ``backtest`` points
# numba's on-disk cache at the user's cache folder, which numba reads when imported.
import backtest  # noqa: F401
