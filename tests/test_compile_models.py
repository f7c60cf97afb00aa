"""``autograd.compile`` on whole training steps: every model family, optimizer, clipping, regulariser
and scheduler of the project, run eagerly and compiled from the same seed; after every call the
returned loss, parameters, gradients, optimizer and scheduler state, BatchNorm buffers and the random
stream must agree, and every call after the first must be a replay (``compile_helpers``)."""
import numpy as np
import pytest

import autograd as ag
import nn
import optim
from compile_helpers import (Setup, check_compiled_matches_eager, classification_batches, token_batches,
                             training_step)

STEPS = 4


def _rng():
    return np.random.default_rng(7)


def _mlp(dtype=None):
    return nn.Sequential(nn.Linear(6, 12, dtype=dtype), nn.ReLU(), nn.Linear(12, 12, dtype=dtype), nn.Tanh(),
                         nn.Linear(12, 3, dtype=dtype))


def _mlp_setup(make_optimizer, **step_options):
    def build():
        model = _mlp()
        optimizer = make_optimizer(model.parameters())
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss(), **step_options), model, optimizer)
    return build


MLP_BATCHES = classification_batches(_rng(), STEPS, 5, 6, 3)


# ---------------------------------------------------------------------------- models
def test_mlp_with_sgd_replays_the_eager_steps():
    check_compiled_matches_eager(_mlp_setup(lambda p: optim.SGD(p, lr=0.1, momentum=0.9)), MLP_BATCHES)


def test_nn_mlp_with_batch_norm_and_dropout():
    def build():
        model = nn.MLP([6, 10, 10, 3], dropout=0.3, batch_norm=True)
        # (not Adam: BatchNorm makes the bias of the Linear before it a gradient of rounding noise, which
        # Adam's normalisation turns into full steps that differ with each run's rounding)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_cnn_with_batch_norm_pools_and_dropout():
    def build():
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(4 * 2 * 2, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, classification_batches(_rng(), STEPS, 4, (1, 8, 8), 3))


def test_batch_norm_1d_running_statistics():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8, momentum=0.3), nn.ReLU(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


@pytest.mark.parametrize("make_norm", [lambda: nn.BatchNorm1d(8, momentum=None),
                                       lambda: nn.BatchNorm1d(8, affine=False, track_running_stats=False)],
                         ids=["cumulative-average", "batch-statistics-only"])
def test_batch_norm_variants(make_norm):
    def build():
        model = nn.Sequential(nn.Linear(6, 8), make_norm(), nn.ReLU(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_dropout_masks_follow_a_generator_reseeded_between_calls():
    def reseed(setup, call):
        if call == 2:
            ag.manual_seed(99)
    check_compiled_matches_eager(_mlp_dropout_setup, MLP_BATCHES, before_call=reseed)


def _mlp_dropout_setup():
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Dropout(0.5), nn.Linear(12, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)


class _Recurrent(nn.Module):
    """Embedding -> a recurrent layer -> the last step's features -> classes."""

    def __init__(self, layer):
        super().__init__()
        self.embedding = nn.Embedding(11, 5)
        self.layer = layer
        self.head = nn.Linear(6, 3)

    def forward(self, tokens):
        output, _ = self.layer(self.embedding(tokens))
        return self.head(output[:, -1])


@pytest.mark.parametrize("make_layer", [
    lambda: nn.LSTM(5, 6, batch_first=True),
    lambda: nn.GRU(5, 6, batch_first=True),
    lambda: nn.RNN(5, 6, num_layers=2, batch_first=True, dropout=0.2),
], ids=["lstm", "gru", "rnn-2-layers-dropout"])
def test_recurrent_models(make_layer):
    def build():
        model = _Recurrent(make_layer())
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, token_batches(_rng(), STEPS, 3, 4, 11, 3))


def test_a_two_layer_bidirectional_lstm_given_its_initial_state():
    def build():
        model = nn.ModuleDict({"lstm": nn.LSTM(4, 5, num_layers=2, bidirectional=True, dropout=0.3),
                               "head": nn.Linear(10, 2)})
        optimizer = optim.Adam(model.parameters(), lr=0.01)

        def step(x, h0, c0):
            optimizer.zero_grad()
            out, (h, c) = model["lstm"](x, (h0, c0))
            loss = model["head"](out).pow(2).mean() + h.pow(2).mean()
            loss.backward()
            optimizer.step()
            return loss, h, c
        return Setup(step, model, optimizer)
    rng = _rng()
    batches = [tuple(rng.standard_normal(shape).astype(np.float32) for shape in ((6, 3, 4), (4, 3, 5), (4, 3, 5)))
               for _ in range(STEPS)]
    check_compiled_matches_eager(build, batches)


def test_a_gru_cell_unrolled_in_python():
    def build():
        cell = nn.GRUCell(4, 5)
        optimizer = optim.SGD(cell.parameters(), lr=0.1)

        def step(xs):
            optimizer.zero_grad()
            h = None
            for x in xs:  # (the loop's Python runs at capture only: the replay is the unrolled steps)
                h = cell(x, h)
            loss = h.pow(2).sum()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, cell, optimizer)
    rng = _rng()
    check_compiled_matches_eager(build, [(rng.standard_normal((5, 2, 4)).astype(np.float32),) for _ in range(STEPS)])


class _TinyTransformer(nn.Module):
    """Embedding -> a transformer encoder layer (attention and feed-forward dropout) -> LayerNorm ->
    mean over the sequence -> classes."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(11, 8)
        self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, tokens):
        return self.head(self.norm(self.encoder(self.embedding(tokens))).mean(dim=1))


def test_transformer_encoder_layer_with_dropout():
    def build():
        model = _TinyTransformer()
        # (SGD: the keys' bias has a gradient of pure rounding noise, softmax being blind to it, which
        # Adam's normalisation would blow up to a full step whichever way each run rounds)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    check_compiled_matches_eager(build, token_batches(_rng(), STEPS, 3, 5, 11, 3))


def test_multihead_attention_with_dropout_returns_its_weights():
    def build():
        attention = nn.MultiheadAttention(8, 2, dropout=0.3, batch_first=True)
        optimizer = optim.SGD(attention.parameters(), lr=0.1)

        def step(x):
            optimizer.zero_grad()
            out, weights = attention(x, x, x)
            loss = (out * out).mean()
            loss.backward()
            optimizer.step()
            return loss, weights
        return Setup(step, attention, optimizer)
    rng = _rng()
    check_compiled_matches_eager(build, [(rng.standard_normal((2, 4, 8)).astype(np.float32),)
                                         for _ in range(STEPS)])


def _padding_batches(count, batch, length):
    """(inputs, key padding mask) pairs: each sequence pads a different number of its last positions,
    never all of them."""
    rng = _rng()
    batches = []
    for _ in range(count):
        lengths = rng.integers(1, length + 1, batch)
        batches.append((rng.standard_normal((batch, length, 8)).astype(np.float32),
                        np.arange(length)[None, :] >= lengths[:, None]))
    return batches


def test_attention_with_a_padding_mask_that_changes_each_call_and_a_causal_mask():
    def build():
        attention = nn.MultiheadAttention(8, 2, dropout=0.1, batch_first=True)
        optimizer = optim.SGD(attention.parameters(), lr=0.1, momentum=0.9)  # (SGD: see the transformer's)
        causal = nn.functional_sequence.causal_mask(5, 5)

        def step(x, padding):
            optimizer.zero_grad()
            out, _ = attention(x, x, x, key_padding_mask=padding, attn_mask=causal)
            loss = out.pow(2).mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, attention, optimizer)
    check_compiled_matches_eager(build, _padding_batches(STEPS, 3, 5))


def test_a_two_layer_pre_norm_transformer_encoder_with_a_padding_mask():
    def build():
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.1, batch_first=True,
                                           norm_first=True)
        encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
        optimizer = optim.SGD(encoder.parameters(), lr=0.1, momentum=0.9)

        def step(x, padding):
            optimizer.zero_grad()
            loss = encoder(x, src_key_padding_mask=padding).pow(2).mean()
            loss.backward()
            nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
            optimizer.step()
            return loss
        return Setup(step, encoder, optimizer)
    check_compiled_matches_eager(build, _padding_batches(STEPS, 3, 5))


# ---------------------------------------------------------------------------- optimizers
OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd-momentum-dampening": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.2),
    "sgd-nesterov-weight-decay": lambda p: optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
    "sgd-maximize": lambda p: optim.SGD(p, lr=0.01, momentum=0.5, maximize=True),
    "sgd-no-foreach": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01, foreach=False),
    "sgd-ema-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, ema_momentum=True),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam-amsgrad-weight-decay": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.01),
    "adam-no-foreach": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, foreach=False),
    "adam-maximize": lambda p: optim.Adam(p, lr=0.01, maximize=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "adamw-amsgrad-no-foreach": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True, foreach=False),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "rmsprop-maximize-eps-inside-sqrt": lambda p: optim.RMSprop(p, lr=0.01, maximize=True, eps_inside_sqrt=True),
    "rmsprop-centered-momentum": lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9,
                                                         weight_decay=0.01),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01),
    "adagrad-maximize-initial-accumulator": lambda p: optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1,
                                                                    maximize=True),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer(name):
    check_compiled_matches_eager(_mlp_setup(OPTIMIZERS[name]), MLP_BATCHES)


def test_two_parameter_groups_with_their_own_hyper_parameters():
    def make(params):
        params = list(params)  # the first layer's weight and bias get their own lr
        return optim.SGD([{"params": params[:2], "lr": 0.3}, {"params": params[2:], "momentum": 0.9}], lr=0.05)
    check_compiled_matches_eager(_mlp_setup(make), MLP_BATCHES)


def test_lbfgs_with_a_closure_runs_eagerly_and_equals_eager():
    # LBFGS.step(closure) calls the closure again at every replay, and the capture's closure holds the
    # first call's batch: the recorder says so and the step runs eagerly
    def build():
        model = _mlp()
        optimizer = optim.LBFGS(model.parameters(), lr=0.5, max_iter=4, history_size=3)
        loss_fn = nn.MSELoss()

        def step(inputs, targets):
            def closure():
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                return loss
            return optimizer.step(closure)
        return Setup(step, model, optimizer)
    rng = _rng()
    batches = [(rng.standard_normal((5, 6)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32))
               for _ in range(STEPS)]
    check_compiled_matches_eager(build, batches, runs_eagerly="closure.*runs eagerly")


# ---------------------------------------------------------------------------- in the step
@pytest.mark.parametrize("clip", ["norm", "norm-inf", "value"])
def test_gradient_clipping(clip):
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if clip == "value":
            def after_backward():
                nn.utils.clip_grad_value_(model.parameters(), 0.05)
        else:
            def after_backward():
                nn.utils.clip_grad_norm_(model.parameters(), 0.3, norm_type=2.0 if clip == "norm" else np.inf)
        step = training_step(model, optimizer, nn.CrossEntropyLoss(), after_backward=after_backward)
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_clip_grad_norm_returns_the_norm_of_each_call():
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(inputs, targets):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(inputs), targets).backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), 0.2)
            optimizer.step()
            return norm
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


@pytest.mark.parametrize("penalty", [
    lambda m: nn.regularizers.l1(m, 1e-3),
    lambda m: nn.regularizers.l2(m, 1e-2, include_bias=True),
    lambda m: nn.regularizers.linf(m, 1e-2),
    lambda m: nn.regularizers.elastic_net(m, 1e-3, 1e-2),
], ids=["l1", "l2", "linf", "elastic-net"])
def test_regularizers_in_the_loss(penalty):
    check_compiled_matches_eager(_mlp_setup(lambda p: optim.SGD(p, lr=0.1), extra_loss=penalty), MLP_BATCHES)


@pytest.mark.parametrize("make_scheduler", [
    lambda opt: optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    lambda opt: optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.3),
    lambda opt: optim.lr_scheduler.ExponentialLR(opt, gamma=0.7),
    lambda opt: optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3),
    lambda opt: optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1 + epoch)),
], ids=["step", "multistep", "exponential", "cosine", "lambda"])
def test_scheduler_stepped_inside_the_step(make_scheduler):
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        scheduler = make_scheduler(optimizer)
        step = training_step(model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler)
        return Setup(step, model, optimizer, scheduler)
    compiled = check_compiled_matches_eager(build, MLP_BATCHES + MLP_BATCHES[:1])
    assert compiled.replays == STEPS


@pytest.mark.parametrize("given", ["tensor", "item"])
def test_reduce_lr_on_plateau_gets_each_calls_loss(given):
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.5)
        scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)

        def step(inputs, targets):
            optimizer.zero_grad()
            loss = nn.CrossEntropyLoss()(model(inputs), targets)
            loss.backward()
            optimizer.step()
            scheduler.step(loss if given == "tensor" else loss.item())
            return loss
        return Setup(step, model, optimizer, scheduler)
    # the same batch at every call with a large lr: the loss goes down and up, so some calls cut the lr
    compiled = check_compiled_matches_eager(build, MLP_BATCHES[:1] * 6)
    assert compiled.replays == 5


def test_hyper_parameter_changes_between_calls_take_effect_at_the_next_replay():
    def change(setup, call):
        group = setup.optimizers[0].param_groups[0]
        if call == 2:
            group["lr"] = 0.01
            group["momentum"] = 0.2
        if call == 3:
            group["nesterov"] = True
            group["weight_decay"] = 0.1
    build = _mlp_setup(lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    check_compiled_matches_eager(build, MLP_BATCHES + MLP_BATCHES[:1], before_call=change)


def test_adam_betas_and_lr_changed_between_calls():
    def change(setup, call):
        group = setup.optimizers[0].param_groups[0]
        if call == 2:
            group["betas"] = (0.5, 0.9)
            group["lr"] = 0.001
    check_compiled_matches_eager(_mlp_setup(lambda p: optim.Adam(p, lr=0.01)), MLP_BATCHES, before_call=change)


@pytest.mark.parametrize("make_model, loss_fn, make_targets", [
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.RMSNorm(8), nn.GELU(), nn.Linear(8, 1)),
     lambda out, y: nn.HuberLoss()(out, y) + nn.SmoothL1Loss(beta=0.5)(out, y) + nn.L1Loss()(out, y),
     lambda rng: rng.standard_normal((5, 1)).astype(np.float32)),
    (lambda: nn.Sequential(nn.Linear(6, 4), nn.SiLU(), nn.Linear(4, 1)),
     lambda out, y: nn.BCEWithLogitsLoss(pos_weight=ag.tensor([2.0]))(out, y) + nn.BCELoss()(ag.sigmoid(out), y),
     lambda rng: rng.integers(0, 2, (5, 1)).astype(np.float32)),
    (lambda: nn.Sequential(nn.Linear(6, 3), nn.ELU()),
     lambda out, y: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=1)(out, y)
     + nn.KLDivLoss(reduction="batchmean")(ag.log_softmax(out, 1), ag.softmax(out.detach() * 2, 1)),
     lambda rng: rng.integers(0, 3, 5)),
], ids=["rmsnorm-gelu-huber-smooth-l1", "silu-bce", "label-smoothing-ignore-index-kl"])
def test_other_layers_and_losses(make_model, loss_fn, make_targets):
    def build():
        model = make_model()
        optimizer = optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5)
        return Setup(training_step(model, optimizer, loss_fn), model, optimizer)
    rng = _rng()
    check_compiled_matches_eager(build, [(rng.standard_normal((5, 6)).astype(np.float32), make_targets(rng))
                                         for _ in range(STEPS)])


def test_weight_constraints_written_in_place_after_the_update():
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        train = training_step(model, optimizer, nn.CrossEntropyLoss())

        def step(inputs, targets):
            loss = train(inputs, targets)
            with ag.no_grad():
                model[0].weight[:, :2] = 0.0  # a pruned block
                rows = model[2].weight.norm(dim=1, keepdim=True)
                model[2].weight.div_(ag.clamp(rows, min=1.0))  # max-norm rows
                model[4].bias.copy_(model[4].bias.clamp(-0.05, 0.05))
            return loss
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


# ---------------------------------------------------------------------------- gradient accumulation
def test_two_backward_calls_accumulate_before_the_update():
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()

        def step(inputs, targets):
            optimizer.zero_grad()
            first = loss_fn(model(inputs[:2]), targets[:2])
            first.backward()
            second = loss_fn(model(inputs[2:]), targets[2:])
            second.backward()
            optimizer.step()
            return first + second
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_gradients_accumulate_across_calls_without_zero_grad():
    def build():
        model = _mlp()

        def step(inputs, targets):
            loss = nn.CrossEntropyLoss()(model(inputs), targets)
            loss.backward()
            return loss
        return Setup(step, model)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_updates_without_zero_grad_use_the_growing_gradients():
    def build():
        model = _mlp()
        optimizer = optim.Adam(model.parameters(), lr=0.01)

        def step(inputs, targets):
            nn.CrossEntropyLoss()(model(inputs), targets).backward()
            optimizer.step()
            return model[0].weight.grad
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_zero_grad_to_zeros_instead_of_none():
    def build():
        model = _mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(inputs, targets):
            optimizer.zero_grad(set_to_none=False)
            loss = nn.CrossEntropyLoss()(model(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_a_hand_written_model_with_leaf_tensors():
    def build():
        w = ag.randn(6, 3, requires_grad=True)
        b = ag.zeros(3, requires_grad=True)
        optimizer = optim.SGD([w, b], lr=0.1)

        def step(inputs, targets):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(ag.relu(inputs @ w + b), targets)
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, optimizers=optimizer, tensors=[w, b])
    check_compiled_matches_eager(build, MLP_BATCHES)


def test_float64_model_and_inputs():
    def build():
        model = _mlp(dtype=ag.float64)
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    batches = classification_batches(_rng(), STEPS, 5, 6, 3, dtype=np.float64)
    check_compiled_matches_eager(build, batches, dtype=np.float64)
