"""``autograd.compile``'s guards and return values: a call whose arguments, grad mode or module modes
differ from every captured program's captures again (and the older programs still replay); returned
tensors are detached values equal to eager's; a step the recorder cannot follow runs eagerly and says
so once."""
import numpy as np
import pytest

import autograd as ag
import nn
import optim
from compile_helpers import (SEED, Setup, as_arguments, assert_same, check_compiled_matches_eager,
                             classification_batches, observe, run_eager, tolerances, training_step)


def _rng():
    return np.random.default_rng(11)


def _model():
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def _training_setup():
    model = _model()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)


# ---------------------------------------------------------------------------- guards
def test_a_new_batch_size_captures_again_and_the_old_one_still_replays():
    rng = _rng()
    small, large = (classification_batches(rng, 3, n, 6, 3) for n in (4, 7))
    batches = [small[0], small[1], large[0], large[1], small[2], large[2]]
    compiled = check_compiled_matches_eager(_training_setup, batches, captures=2)
    assert len(compiled.programs) == 2
    assert compiled.program.arguments[0].shape == (7, 6)  # the program of the latest call


def test_eval_mode_captures_again_and_equals_eager():
    def build():
        setup = _training_setup()
        train = setup.step

        def step(inputs, targets):
            if setup.model.training:
                return train(inputs, targets)
            with ag.no_grad():
                return nn.CrossEntropyLoss()(setup.model(inputs), targets)
        return Setup(step, setup.model, setup.optimizers)

    def mode(setup, call):
        setup.model.train(call not in (2, 3, 5))
    batches = classification_batches(_rng(), 6, 5, 6, 3)
    check_compiled_matches_eager(build, batches, before_call=mode, captures=2)  # (the eval program replays)


def test_eval_forward_replays_with_running_statistics():
    def build():
        model = _model()
        model.eval()
        return Setup(lambda x: model(x), model)
    batches = [(x,) for x, _ in classification_batches(_rng(), 3, 5, 6, 3)]
    check_compiled_matches_eager(build, batches)


def test_float64_inputs_capture_a_program_of_their_own():
    weight = ag.tensor(np.linspace(-1, 1, 6))

    def step(x):
        return ag.tanh(x * weight.to(x.dtype)).sum()
    compiled = ag.compile(step)
    rng = _rng()
    for dtype in (np.float32, np.float64, np.float32, np.float64):
        x = rng.standard_normal(6).astype(dtype)
        result = compiled(ag.tensor(x))
        expected = step(ag.tensor(x))
        assert result.dtype == expected.dtype == dtype
        np.testing.assert_allclose(result.numpy(), expected.numpy(), *tolerances(dtype))
    assert (compiled.captures, compiled.replays) == (2, 2)


def test_an_inference_step_under_no_grad_and_a_training_step_are_two_programs():
    def build():
        setup = _training_setup()
        train = setup.step

        def step(inputs, targets):
            if ag.is_grad_enabled():
                return train(inputs, targets)
            return setup.model(inputs)
        return Setup(step, setup.model, setup.optimizers)
    batches = classification_batches(_rng(), 6, 5, 6, 3)
    inference = {1, 3, 4}

    def call(function, i, batch):
        with ag.set_grad_enabled(i not in inference):
            return function(*as_arguments(batch))
    expected = []
    ag.manual_seed(SEED)
    setup = build()
    for i, batch in enumerate(batches):
        expected.append(observe(setup, call(setup.step, i, batch)))
    ag.manual_seed(SEED)
    setup = build()
    compiled = ag.compile(setup.step)
    for i, batch in enumerate(batches):
        result = call(compiled, i, batch)
        assert_same(observe(setup, result), expected[i], f"call {i}", *tolerances(np.float32))
    assert (compiled.captures, compiled.replays) == (2, 4)


def test_a_model_cast_to_float64_between_calls_captures_again():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)  # (no state: nothing of float32 kept across)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)

    def cast(setup, call):
        if call == 2:
            setup.model.double()
    rng = _rng()
    batches = classification_batches(rng, 2, 5, 6, 3) + classification_batches(rng, 3, 5, 6, 3, np.float64)
    check_compiled_matches_eager(build, batches, before_call=cast, captures=2)


def test_a_scheduler_stepped_between_calls_changes_the_next_replays_lr():
    def build():
        model = nn.Sequential(nn.Linear(6, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer, scheduler)

    def epoch_end(setup, call):
        if call in (2, 3):
            setup.schedulers[0].step()
    check_compiled_matches_eager(build, classification_batches(_rng(), 5, 5, 6, 3), before_call=epoch_end)


def test_tensors_given_as_keyword_arguments_are_the_replays_inputs():
    def build():
        model = nn.Linear(6, 3)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        step = training_step(model, optimizer, nn.CrossEntropyLoss())
        return Setup(lambda inputs, targets: step(targets=targets, inputs=inputs), model, optimizer)
    check_compiled_matches_eager(build, classification_batches(_rng(), 3, 5, 6, 3))


def test_a_gradient_hook_on_a_parameter_is_part_of_the_replay():
    def build():
        model = nn.Linear(6, 3)
        model.weight.register_hook(lambda grad: grad * 0.5)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, classification_batches(_rng(), 3, 5, 6, 3))


def test_a_parameter_without_a_gradient_stays_untouched():
    def build():
        model = nn.ModuleList([nn.Linear(6, 3), nn.Linear(6, 3)])
        optimizer = optim.Adam(model.parameters(), lr=0.1)

        def step(inputs, targets):
            model.zero_grad()
            loss = nn.CrossEntropyLoss()(model[0](inputs), targets)  # model[1] is not used
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, classification_batches(_rng(), 3, 5, 6, 3))


def test_an_argument_written_in_place_by_the_step_is_each_calls_argument():
    compiled = ag.compile(lambda x: x.add_(1.0) * 2)
    for value in (1.0, 2.0, 3.0):
        x = ag.tensor([value])
        assert compiled(x).item() == 2 * (value + 1)
        assert x.item() == value + 1
    assert compiled.replays == 2


def test_a_call_that_raises_during_capture_keeps_no_program():
    model = nn.Linear(3, 2)
    compiled = ag.compile(lambda x: model(x).sum())
    with pytest.raises(ValueError):
        compiled(ag.ones(2, 4))
    expected = model(ag.ones(2, 3)).sum().item()
    assert [compiled(ag.ones(2, 3)).item() for _ in range(2)] == [expected, expected]
    assert compiled.replays == 1


def test_a_non_tensor_argument_is_part_of_the_guards():
    def build():
        model = nn.Linear(6, 3)
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(inputs, scale):
            optimizer.zero_grad()
            loss = (model(inputs) * scale).pow(2).mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    rng = _rng()
    batches = [(rng.standard_normal((4, 6)).astype(np.float32), scale) for scale in (2.0, 2.0, 3.0, 2.0, 3.0)]
    compiled = check_compiled_matches_eager(build, batches, captures=2)
    assert len(compiled.programs) == 2


def test_a_keyword_argument_is_guarded_as_well():
    def step(x, *, power):
        return (x ** power).sum()
    compiled = ag.compile(step)
    x = ag.tensor([1.0, 2.0, 3.0])
    assert [compiled(x, power=p).item() for p in (2, 2, 3, 3, 2)] == [14.0, 14.0, 36.0, 36.0, 14.0]
    assert (compiled.captures, compiled.replays) == (2, 3)


def test_a_parameter_changed_in_place_between_calls_is_read_at_the_next_replay():
    def change(setup, call):
        if call == 2:
            with ag.no_grad():
                setup.model[0].weight.mul_(0.5)
                setup.model[0].bias.fill_(0.25)
    check_compiled_matches_eager(_training_setup, classification_batches(_rng(), 4, 5, 6, 3), before_call=change)


def test_a_state_dict_loaded_between_calls_is_used_by_the_replay():
    ag.manual_seed(3)
    other = _model().state_dict()

    def change(setup, call):
        if call == 2:
            setup.model.load_state_dict(other)
    check_compiled_matches_eager(_training_setup, classification_batches(_rng(), 4, 5, 6, 3), before_call=change)


def test_calling_the_compiled_step_under_another_capture_joins_it():
    inner = ag.compile(lambda x: x * 2)
    outer = ag.compile(lambda x: inner(x) + 1)
    for value in (1.0, 2.0, 5.0):
        assert outer(ag.tensor([value])).item() == value * 2 + 1
    assert (outer.captures, outer.replays) == (1, 2)
    assert inner.captures == 0  # it ran inside the outer capture


def test_a_replaced_parameter_is_guarded():
    model = nn.Linear(2, 1)
    compiled = ag.compile(lambda x: model(x))
    x = ag.ones(1, 2)
    compiled(x)
    model.weight = nn.Parameter(ag.zeros(1, 2))
    np.testing.assert_allclose(compiled(x).numpy(), model(x).detach().numpy())
    assert compiled.captures == 2


def test_a_parameter_frozen_between_calls_is_not_updated():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)

    def freeze(setup, call):
        if call == 2:
            setup.model[0].requires_grad_(False)
    compiled = check_compiled_matches_eager(build, classification_batches(_rng(), 4, 5, 6, 3), before_call=freeze,
                                            captures=2)
    assert compiled.captures == 2


def test_a_dropout_probability_changed_between_calls_is_used():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)

    def change(setup, call):
        if call == 2:
            setup.model[2].p = 0.0
    check_compiled_matches_eager(build, classification_batches(_rng(), 4, 5, 6, 3), before_call=change,
                                 captures=2)


@pytest.mark.parametrize("layer, attribute, value", [
    (lambda: nn.BatchNorm1d(8, momentum=0.1), "momentum", 0.9),
    (lambda: nn.BatchNorm1d(8), "eps", 0.5),
    (lambda: nn.LeakyReLU(0.1), "negative_slope", 0.5),
    (lambda: nn.ELU(1.0), "alpha", 3.0),
], ids=["batch-norm-momentum", "batch-norm-eps", "leaky-relu-slope", "elu-alpha"])
def test_a_layers_setting_changed_between_calls_is_used(layer, attribute, value):
    def build():
        model = nn.Sequential(nn.Linear(6, 8), layer(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)

    def change(setup, call):
        if call == 2:
            setattr(setup.model[1], attribute, value)
    check_compiled_matches_eager(build, classification_batches(_rng(), 4, 5, 6, 3), before_call=change,
                                 captures=2)


def test_the_gradient_of_an_argument_goes_to_each_calls_argument():
    def step(x):
        (x * x).sum().backward()
        return x.grad
    compiled = ag.compile(step)
    for value in (1.0, 2.0, 3.0):
        x = ag.tensor([value, value], requires_grad=True)
        returned = compiled(x)
        np.testing.assert_allclose(x.grad.numpy(), [2 * value, 2 * value])
        np.testing.assert_allclose(returned.numpy(), [2 * value, 2 * value])
    assert compiled.replays == 2


def test_a_call_with_one_tensor_given_twice_does_not_alias_later_calls():
    def step(x, y):
        return x * 2 + y
    compiled = ag.compile(step)
    same = ag.tensor([1.0])
    assert compiled(same, same).item() == 3.0
    a, b = ag.tensor([1.0]), ag.tensor([10.0])
    assert compiled(a, b).item() == 12.0
    assert compiled(b, a).item() == 21.0
    assert compiled(b, b).item() == 30.0


def test_a_generator_made_inside_the_step_starts_afresh_at_each_call():
    def step(x):
        generator = ag.Generator(0)  # eagerly: the same draws at every call
        return x + ag.rand(3, generator=generator)
    compiled = ag.compile(step)
    x = ag.zeros(3)
    expected = step(x).numpy()
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).numpy(), expected)


def test_steps_that_set_the_mode_themselves_replay():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Dropout(0.2), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def train(inputs, targets):
            model.train()
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss

        def evaluate(inputs, targets):
            model.eval()
            with ag.no_grad():
                return loss_fn(model(inputs), targets)
        return model, train, evaluate

    batches = classification_batches(_rng(), 4, 5, 6, 3)
    ag.manual_seed(SEED)
    model, train, evaluate = build()
    expected = []
    for batch in batches:
        expected.append((train(*as_arguments(batch)).item(), evaluate(*as_arguments(batch)).item(),
                         model.training))
    ag.manual_seed(SEED)
    model, train, evaluate = build()
    train, evaluate = ag.compile(train), ag.compile(evaluate)
    for batch, (train_loss, eval_loss, training) in zip(batches, expected):
        np.testing.assert_allclose(train(*as_arguments(batch)).item(), train_loss, rtol=1e-5)
        np.testing.assert_allclose(evaluate(*as_arguments(batch)).item(), eval_loss, rtol=1e-5)
        assert model.training == training
    assert (train.captures, train.replays, evaluate.captures, evaluate.replays) == (1, 3, 1, 3)


# ---------------------------------------------------------------------------- return values
def test_a_returned_tensor_is_a_detached_value_at_every_call():
    setup = _training_setup()
    compiled = ag.compile(setup.step)
    for batch in classification_batches(_rng(), 3, 5, 6, 3):
        loss = compiled(*as_arguments(batch))
        assert isinstance(loss, ag.Tensor) and loss.shape == () and loss.dtype == np.float32
        assert not loss.requires_grad and loss.grad_fn is None
    assert compiled.replays == 2


def test_a_returned_item_is_each_calls_value():
    def build():
        setup = _training_setup()
        train = setup.step
        return Setup(lambda inputs, targets: train(inputs, targets).item(), setup.model, setup.optimizers)
    check_compiled_matches_eager(build, classification_batches(_rng(), 4, 5, 6, 3))


def test_a_tuple_and_a_dict_of_tensors_are_rebuilt():
    def build():
        model = _model()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()

        def step(inputs, targets):
            optimizer.zero_grad()
            logits = model(inputs)
            loss = loss_fn(logits, targets)
            loss.backward()
            optimizer.step()
            correct = (logits.argmax(dim=1) == targets).sum()
            return (loss, {"logits": logits, "correct": correct, "note": "train", "count": 5}), [model[0].weight]
        return Setup(step, model, optimizer)
    # (the comparison covers the structure: tensors where eager has tensors, the same str and int)
    check_compiled_matches_eager(build, classification_batches(_rng(), 4, 5, 6, 3))


def test_a_step_that_returns_a_parameter_returns_the_parameter_itself():
    model = nn.Linear(3, 2)
    compiled = ag.compile(lambda x: (model(x).sum(), model.weight))
    x = ag.ones(4, 3)
    for _ in range(3):
        _, weight = compiled(x)
        assert weight is model.weight
    assert compiled.replays == 2


def test_a_branch_on_a_value_that_changes_raises_at_replay():
    weight = ag.tensor([1.0, -1.0])

    def step(x):
        total = (x * weight).sum()
        if total.item() > 0:
            return total * 2
        return total * 3
    compiled = ag.compile(step)
    assert compiled(ag.tensor([2.0, 1.0])).item() == 2.0
    assert compiled(ag.tensor([2.0, 1.0])).item() == 2.0  # the same value: the branch still holds
    with pytest.raises(RuntimeError, match="read a tensor's value"):
        compiled(ag.tensor([1.0, 2.0]))


def test_a_bool_read_that_changes_raises_at_replay():
    def step(x):
        if bool((x > 0).all()):
            return x.sqrt()
        return x.abs()
    compiled = ag.compile(step)
    np.testing.assert_allclose(compiled(ag.tensor([4.0, 9.0])).numpy(), [2.0, 3.0])
    np.testing.assert_allclose(compiled(ag.tensor([16.0, 1.0])).numpy(), [4.0, 1.0])
    with pytest.raises(RuntimeError, match=r"bool\(\) read"):
        compiled(ag.tensor([-4.0, 9.0]))


def test_a_padding_mask_that_newly_hides_a_whole_sequence_raises_at_replay():
    # scaled dot-product attention branches in Python on whether a query has no key left
    def step(x, padding):
        return nn.functional.scaled_dot_product_attention(x, x, x, attn_mask=~padding[:, None, :])
    compiled = ag.compile(step)
    some = ag.tensor(np.array([[False, False, True], [False, True, True]]))
    x = ag.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    compiled(x, some)
    other = ag.tensor(np.array([[False, True, True], [False, False, False]]))
    np.testing.assert_allclose(compiled(x, other).numpy(), step(x, other).numpy(), rtol=1e-12)
    assert compiled.replays == 1
    with pytest.raises(RuntimeError, match="read a tensor's value"):
        compiled(x, ag.tensor(np.array([[True, True, True], [False, False, False]])))


def test_a_branch_on_tolist_raises_at_replay():
    def step(x):
        if x.sum().tolist() > 0:
            return x * 2
        return x * 3
    compiled = ag.compile(step)
    assert compiled(ag.tensor([1.0])).item() == 2.0
    with pytest.raises(RuntimeError, match="read a tensor's value"):
        compiled(ag.tensor([-1.0]))


def test_a_tensor_made_from_the_steps_numpy_values_runs_eagerly():
    def build():
        weight = ag.tensor([0.5, -1.0])
        return Setup(lambda x: ag.tensor(x.numpy() * 2) + x * weight, tensors=[weight])
    batches = [(np.array([v, 1.0], np.float32),) for v in (1.0, 5.0, -2.0)]
    check_compiled_matches_eager(build, batches, runs_eagerly="numpy.*runs eagerly")


def test_retain_grad_of_a_tensor_of_the_step_runs_eagerly():
    def build():
        weight = ag.tensor([1.0, -1.0], requires_grad=True)

        def step(x):
            hidden = x * weight
            hidden.retain_grad()
            (hidden * hidden).sum().backward()
            return hidden.grad
        return Setup(step, tensors=[weight])
    batches = [(np.array([v, 2.0], np.float32),) for v in (1.0, 2.0, 3.0)]
    check_compiled_matches_eager(build, batches, runs_eagerly="retain_grad.*runs eagerly")


def test_python_side_effects_happen_at_capture_only():
    log = []

    def step(x):
        log.append("called")
        return x + 1
    compiled = ag.compile(step)
    for value in (1.0, 2.0, 3.0):
        assert compiled(ag.tensor([value])).item() == value + 1
    assert log == ["called"]


# ---------------------------------------------------------------------------- capture failure
def test_a_step_with_multinomial_runs_eagerly_with_a_warning_and_gives_eager_results():
    def build():
        model = nn.Linear(6, 4)
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(inputs):
            optimizer.zero_grad()
            probabilities = ag.softmax(model(inputs), dim=1)
            picks = ag.multinomial(probabilities.detach(), 2)
            loss = -probabilities.gather(1, picks).log().mean()
            loss.backward()
            optimizer.step()
            return loss, picks
        return Setup(step, model, optimizer)
    rng = _rng()
    batches = [(rng.standard_normal((5, 6)).astype(np.float32),) for _ in range(4)]
    check_compiled_matches_eager(build, batches, runs_eagerly="multinomial.*runs eagerly")
