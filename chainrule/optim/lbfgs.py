"""L-BFGS with an optional strong-Wolfe line search, a port of ``torch.optim.LBFGS``.

The parameters are handled as one flat vector (their gradients concatenated); the history
of updates ``s`` and gradient changes ``y`` gives the two-loop recursion's direction.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ..autograd.grad_mode import enable_grad, no_grad
from ..backend import xp
from .optimizer import Hyper, Optimizer, ParamsT

Flat = Any  # a 1-D ndarray: every parameter (or gradient), flattened and concatenated


# ============================================================================ the line search
def _cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                       bounds: Optional[tuple[Any, Any]] = None) -> Any:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), within bounds."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = xp.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


def _strong_wolfe(obj_func: Callable[[Any, Flat], tuple[float, Flat]], t: Any, d: Flat,
                  f: float, g: Flat, gtd: Any, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25
                  ) -> tuple[float, Flat, Any, int]:
    """torch's strong-Wolfe search along ``d``: bracket a step, then zoom by cubic
    interpolation. Returns ``(loss, flat_grad, step, evaluations)``."""
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(t, d)
    ls_func_evals, ls_iter = 1, 0
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    while ls_iter < max_ls:  # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t, t_prev = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                       bounds=(min_step, max_step)), t
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # zoom phase
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        t, insuf_progress = _keep_away_from_ends(t, bracket, insuf_progress)
        f_new, g_new = obj_func(t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], ls_func_evals


def _keep_away_from_ends(t: Any, bracket: list, insuf_progress: bool) -> tuple[Any, bool]:
    """torch's safeguard: a trial step too close to an end of the bracket moves 10% in."""
    eps = 0.1 * (max(bracket) - min(bracket))
    if min(max(bracket) - t, t - min(bracket)) >= eps:
        return t, False
    if insuf_progress or t >= max(bracket) or t <= min(bracket):
        if abs(t - max(bracket)) < abs(t - min(bracket)):
            return max(bracket) - eps, False
        return min(bracket) + eps, False
    return t, True


# ============================================================================ the optimizer
class LBFGS(Optimizer):
    """L-BFGS, exactly ``torch.optim.LBFGS``'s algorithm: each ``step(closure)`` runs up to
    ``max_iter`` iterations, each a two-loop-recursion direction and a step along it (a fixed
    ``lr``, or a strong-Wolfe line search).

    One parameter group only, as torch's. The closure must clear the gradients, compute the
    loss, call ``backward()`` and return the loss.

    Args:
        params: parameters (one group).
        lr: learning rate (>= 0); the first iteration's step is
            ``min(1, 1 / sum|g|) * lr``.
        max_iter: iterations per ``step``.
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g| <= tolerance_grad``.
        tolerance_change: stop when the step or the loss changes less than this.
        history_size: the number of (s, y) pairs kept.
        line_search_fn: ``None`` or ``'strong_wolfe'``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([3.0, -2.0], dtype=cr.float64))
        >>> opt = cr.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [1.0, 1.0]
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "tolerance_grad": Hyper("number"), "tolerance_change": Hyper("number")}

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: Optional[int] = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: only line_search_fn=None or 'strong_wolfe' is "
                             f"supported, got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        self._check_arguments(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ------------------------------------------------------------------ the flat vector
    def _gather_flat_grad(self) -> Flat:
        return xp.concatenate([p.grad._data.reshape(-1) if p.grad is not None
                               else xp.zeros(p.numel(), p.dtype) for p in self._params])

    def _add_grad(self, step_size: Any, update: Flat) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p._data += step_size * update[offset:offset + n].reshape(p.shape)
            p._version += 1
            offset += n

    def _evaluate(self, closure: Callable[[], Any]) -> float:
        with enable_grad():
            return float(closure())

    def _directional_evaluate(self, closure: Callable[[], Any], t: Any,
                              d: Flat) -> tuple[float, Flat]:
        """The loss and flat gradient at ``x + t d``; the parameters are then put back."""
        saved = [p._data.copy() for p in self._params]
        self._add_grad(t, d)
        loss = self._evaluate(closure)
        flat_grad = self._gather_flat_grad()
        for p, data in zip(self._params, saved):
            p._data[...] = data
            p._version += 1
        return loss, flat_grad

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the first ``closure()`` loss.

        Args:
            closure: clears the gradients, computes the loss, calls ``backward`` and returns
                the loss.
        """
        group = self.step_hypers(self.param_groups[0])  # a Tensor lr read as its value
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max() <= group["tolerance_grad"]:
            return orig_loss
        with no_grad():
            self._iterate(closure, group, state, loss, flat_grad)
        return orig_loss

    def _direction(self, state: dict[str, Any], flat_grad: Flat, history_size: int) -> None:
        """Update the (s, y) history and set ``state['d']`` by the two-loop recursion."""
        if state["n_iter"] == 1:
            state.update(d=-flat_grad, old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = y.dot(s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
            old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)
        al = state.setdefault("al", [None] * history_size)
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q += -al[i] * old_dirs[i]
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        state["d"] = r

    def _iterate(self, closure: Callable[[], Any], group: Mapping[str, Any],
                 state: dict[str, Any], loss: float, flat_grad: Flat) -> None:
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        current_evals, n_iter, t = 1, 0, state.get("t")
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            self._direction(state, flat_grad, group["history_size"])
            d = state["d"]
            state["prev_flat_grad"] = flat_grad.copy()
            state["prev_loss"] = loss
            t = (min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr if state["n_iter"] == 1
                 else lr)
            gtd = flat_grad.dot(d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] is not None:
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda t_, d_: self._directional_evaluate(closure, t_, d_), t, d, loss,
                    flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
            else:
                self._add_grad(t, d)
                ls_func_evals = 0
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    flat_grad = self._gather_flat_grad()
                    ls_func_evals = 1
            state["t"] = t
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval \
                    or xp.abs(flat_grad).max() <= tol_grad \
                    or xp.abs(d * t).max() <= tol_change \
                    or abs(loss - state["prev_loss"]) < tol_change:
                break
        state["t"] = t

    # ------------------------------------------------------------------ state dict
    def _restored_param_state(self, values: Any, param: Any, key: int,
                              group: Mapping[str, Any]) -> dict[str, Any]:
        """LBFGS keeps flat vectors and lists of them: copied in as they are."""
        if not isinstance(values, Mapping):
            raise ValueError(f"loaded state dict: state of parameter {key} must be a dict")
        return {k: [xp.array(a) if a is not None else None for a in v]
                if isinstance(v, list) else xp.array(v) if isinstance(v, xp.ndarray) else v
                for k, v in values.items()}
