"""gradgradcheck, check_jacobian and check_hessian, on the course's formulas: the softmax Jacobian
diag(p) − p pᵀ (revision notes, term by term) and the ridge Hessian 2(XᵀX + λI) whose Newton step
solves ridge regression in one step; and gradcheck evaluating the user's function as a user would
(a hook on an intermediate works)."""
import numpy as np
import pytest

import autograd as ag

rng = np.random.default_rng(3)
LOGITS = rng.standard_normal(5)
X = rng.standard_normal((8, 3))
Y = rng.standard_normal(8)
LAM = 0.7


def T(a, requires_grad=True):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def softmax_jacobian(z):
    p = np.exp(z - z.max())
    p /= p.sum()
    return np.diag(p) - np.outer(p, p)


def ridge_loss(w, X=T(X, False), y=T(Y, False)):
    r = X @ w - y
    return (r * r).sum() + LAM * (w * w).sum()


def test_softmax_jacobian_is_diag_p_minus_p_p_transpose():
    assert ag.check_jacobian(lambda z: ag.softmax(z, -1), [T(LOGITS)], softmax_jacobian)


def test_softmax_jacobian_rows_sum_to_zero_and_it_is_symmetric():
    j = ag.functional.jacobian(lambda z: ag.softmax(z, -1), T(LOGITS, False)).numpy()
    np.testing.assert_allclose(j.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(j, j.T, atol=1e-15)


def test_a_wrong_jacobian_formula_is_reported_with_index_and_both_values():
    def forgot_the_outer_product(z):
        p = np.exp(z - z.max())
        return np.diag(p / p.sum())
    with pytest.raises(ag.GradcheckError) as info:
        ag.check_jacobian(lambda z: ag.softmax(z, -1), [T(LOGITS)], forgot_the_outer_product)
    message = str(info.value)
    assert "check_jacobian" in message and "input 0" in message and "at index (" in message
    assert "autograd = " in message and "analytic = " in message


def test_ridge_hessian_is_twice_xtx_plus_lambda_i():
    assert ag.check_hessian(ridge_loss, [T(np.zeros(3))], lambda w: 2 * (X.T @ X + LAM * np.eye(3)))


def test_newton_solves_ridge_in_one_step():
    w0 = T(rng.standard_normal(3), False)
    g = ag.functional.vjp(ridge_loss, w0)[1].numpy()
    h = ag.functional.hessian(ridge_loss, w0).numpy()
    w1 = w0.numpy() - np.linalg.solve(h, g)
    closed_form = np.linalg.solve(X.T @ X + LAM * np.eye(3), X.T @ Y)
    np.testing.assert_allclose(w1, closed_form, rtol=1e-12)
    _, g1 = ag.functional.vjp(ridge_loss, T(w1, False))
    np.testing.assert_allclose(g1.numpy(), 0.0, atol=1e-12)


def test_check_hessian_blocks_and_a_wrong_block():
    def f(a, b):
        return (a * a).sum() * (b * b * b).sum()
    a, b = rng.standard_normal(2), rng.standard_normal(3)

    def blocks(a, b):
        return [[2 * np.sum(b ** 3) * np.eye(2), np.outer(2 * a, 3 * b ** 2)],
                [np.outer(3 * b ** 2, 2 * a), np.sum(a ** 2) * np.diag(6 * b)]]
    assert ag.check_hessian(f, [T(a), T(b)], blocks)

    def wrong(a, b):
        out = blocks(a, b)
        out[1][1] = out[1][1] * 2.0
        return out
    with pytest.raises(ag.GradcheckError, match=r"block \(input 1, input 1\)"):
        ag.check_hessian(f, [T(a), T(b)], wrong)


def test_check_jacobian_and_hessian_bad_input():
    with pytest.raises(ValueError, match="check_jacobian: at least one input"):
        ag.check_jacobian(lambda z: z, [T(LOGITS, False)], softmax_jacobian)
    with pytest.raises(ValueError, match="check_jacobian: the analytic Jacobian for input 0 has shape"):
        ag.check_jacobian(lambda z: ag.softmax(z, -1), [T(LOGITS)], lambda z: np.zeros((5, 4)))
    with pytest.raises(RuntimeError, match="hessian: the function given to hessian must return a single"):
        ag.check_hessian(lambda w: w * 2.0, [T(np.zeros(3))], lambda w: np.zeros((3, 3)))


# ---------------------------------------------------------------------------------- gradgradcheck
@pytest.mark.parametrize("fn", [lambda x: x.tanh() * x, lambda x: ag.softmax(x, -1), lambda x: (x ** 3).sum()],
                         ids=["tanh*x", "softmax", "cube-sum"])
def test_gradgradcheck_passes_for_smooth_ops(fn):
    assert ag.gradgradcheck(fn, [T(rng.standard_normal(4))])


def test_gradgradcheck_with_given_grad_outputs():
    x = T(rng.standard_normal((2, 3)))
    assert ag.gradgradcheck(lambda x: x.sin() * x, [x], grad_outputs=[T(np.ones((2, 3)), False)])
    with pytest.raises(ValueError, match="gradgradcheck: grad_outputs\\[0\\] has shape"):
        ag.gradgradcheck(lambda x: x.sin(), [x], grad_outputs=[T(np.ones(3), False)])


class SquareWithConstantBackward(ag.Function):
    """y = x², with a backward that is right at first order but treats 2x as a constant: its second
    derivative is 0 instead of 2. gradcheck passes; gradgradcheck must not."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * ag.tensor(2.0 * x.detach().numpy())

    @staticmethod
    def jvp(ctx, tx):
        (x,) = ctx.saved_tensors
        return tx * x * 2.0


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = T(rng.standard_normal(3))
    assert ag.gradcheck(SquareWithConstantBackward.apply, [x])
    with pytest.raises(ag.GradcheckError, match="Jacobian mismatch"):
        ag.gradgradcheck(SquareWithConstantBackward.apply, [x])


# ------------------------------------------------------------------ the user's function, as a user runs it
def test_gradcheck_accepts_a_function_that_hooks_an_intermediate():
    seen = []

    def fn(x):
        y = x.exp()
        y.register_hook(lambda g: seen.append(g) or g * 1.0)
        y.retain_grad()
        return (y * x).sum()
    x = T(rng.standard_normal(3))
    assert ag.gradcheck(fn, [x])
    assert seen, "the hook ran during the analytic backward passes"
    assert ag.numerical_grad(fn, [x])[0].shape == (3,)
    assert ag.gradgradcheck(fn, [x])


def test_a_hook_that_changes_the_gradient_is_caught():
    def fn(x):
        y = x * 2.0
        y.register_hook(lambda g: g * 3.0)  # the analytic gradient is scaled, the function is not
        return y.sum()
    with pytest.raises(ag.GradcheckError):
        ag.gradcheck(fn, [T(rng.standard_normal(3))])
