"""The mel diffusion model (synth/prompt/diffusion.py) and its sampler (synth/prompt/flow_sampler.py), tiny configs."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from composer.errors import ComposerError
from composer.model.checkpoint import save_model
from synth.instruments.neural.mel import SILENCE_LOG_MEL
from synth.prompt.diffusion import DiffusionConfig, MelDiT, dct_matrix
from synth.prompt.flow_sampler import KIND, load_diffusion, noised, sample_mel, velocity_target

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "patch_frames": 8, "clip_frames": 64}


def tiny_model(seed: int = 0, **changes) -> MelDiT:
    """A tiny MelDiT with all weights random (adaLN-Zero would make it output 0 and ignore the text)."""
    torch.manual_seed(seed)
    model = MelDiT(DiffusionConfig(**(TINY | changes)))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model.eval()


class GaussianFlow(MelDiT):
    """The exact rectified-flow velocity when every mel value is N(mu, s^2), independently (normalised space).

    For x_t = (1 - t) n + t d: var_t = (1 - t)^2 + t^2 s^2 and
    v(x, t) = E[d - n | x_t = x] = mu + (t s^2 - (1 - t)) / var_t * (x - t mu).
    Its ODE carries the noise z to mu + s z exactly."""

    def __init__(self, mu: torch.Tensor, s: float) -> None:
        super().__init__(DiffusionConfig(**TINY))
        self.mu, self.s = mu, s

    def forward(self, x, t, text, drop=None, controls=None):
        t = t.view(-1, 1, 1)
        var = (1 - t) ** 2 + t**2 * self.s**2
        return self.mu + (t * self.s**2 - (1 - t)) / var * (x - t * self.mu)


@pytest.mark.parametrize("n_frames", [64, 32, 8, 21])
def test_shapes_any_length_up_to_the_clip(n_frames):
    model = tiny_model()
    x = torch.randn(3, 80, n_frames)
    v = model(x, torch.rand(3), torch.randn(3, 384), torch.tensor([True, False, False]))
    assert v.shape == (3, 80, n_frames) and torch.isfinite(v).all()


def test_too_long_or_wrong_bands_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(1, 80, 65), torch.rand(1), torch.randn(1, 384))
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(1, 40, 16), torch.rand(1), torch.randn(1, 384))


def test_config_checks_and_default_statistics():
    cfg = DiffusionConfig(**TINY)
    assert cfg.mel_mean == [0.0] * 80 and cfg.mel_std == [1.0] * 80 and cfg.max_tokens == 8
    with pytest.raises(ValueError, match="multiple of patch_frames"):
        DiffusionConfig(clip_frames=100, patch_frames=8)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        DiffusionConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="80 values"):
        DiffusionConfig(mel_mean=[0.0] * 3)
    with pytest.raises(ValueError, match="positive"):
        DiffusionConfig(mel_std=[0.0] * 80)


def test_adaln_zero_init_leaves_only_the_skip_and_blocks_are_identities():
    torch.manual_seed(0)
    model = MelDiT(DiffusionConfig(**TINY))
    x, t, text = torch.randn(2, 80, 40), torch.rand(2), torch.randn(2, 384)
    gain = ((2 * t - 1) / ((1 - t) ** 2 + t**2)).view(2, 1, 1)  # a(t) for unit variance, the initial s^2
    torch.testing.assert_close(model(x, t, text), gain * x)
    assert torch.equal(model(x, t, text), model(x, t, torch.randn(2, 384)))  # the text enters by adaLN only
    h, c = torch.randn(2, 5, 32), model.condition(t, text)
    for block in model.blocks:
        assert torch.equal(block(h, c), h)
    # ... and yet it learns: one gradient step moves the output.
    loss = (model(x, t, text) - x).pow(2).mean()
    loss.backward()
    assert model.patch_out.weight.grad.abs().sum() > 0


def test_dropped_text_uses_the_null_embedding():
    model = tiny_model()
    x, t = torch.randn(2, 80, 16), torch.rand(2)
    text_a, text_b = torch.randn(2, 384), torch.randn(2, 384)
    drop = torch.ones(2, dtype=torch.bool)
    dropped_a, dropped_b = model(x, t, text_a, drop), model(x, t, text_b, drop)
    torch.testing.assert_close(dropped_a, dropped_b)
    torch.testing.assert_close(dropped_a, model(x, t, model.null_text.expand(2, -1)))
    assert not torch.allclose(model(x, t, text_a), model(x, t, text_b))
    # Per example: only the dropped row loses its text.
    mixed = model(x, t, text_a, torch.tensor([True, False]))
    torch.testing.assert_close(mixed[0], dropped_a[0])
    torch.testing.assert_close(mixed[1], model(x, t, text_a)[1])


def test_normalize_round_trip():
    model = MelDiT(DiffusionConfig(**TINY, mel_mean=[-5.0 + 0.01 * i for i in range(80)], mel_std=[2.0] * 80))
    log_mel = torch.randn(1, 80, 10) * 3 - 5
    torch.testing.assert_close(model.denormalize(model.normalize(log_mel)), log_mel)
    assert model.normalize(torch.full((1, 80, 1), -5.0))[0, 0, 0] == 0.0


def test_path_convention():
    data, noise = torch.randn(2, 80, 8), torch.randn(2, 80, 8)
    torch.testing.assert_close(noised(data, noise, torch.zeros(2)), noise)
    torch.testing.assert_close(noised(data, noise, torch.ones(2)), data)
    t = torch.tensor([0.25, 0.5])
    dt = 1e-3
    slope = (noised(data, noise, t + dt) - noised(data, noise, t)) / dt
    torch.testing.assert_close(slope, velocity_target(data, noise), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("sampler", ["heun", "euler"])
def test_same_seed_same_mel(sampler):
    model, text = tiny_model(), torch.randn(2, 384)

    def run(seed):
        return sample_mel(model, text, 40, steps=4, guidance=2.5, generator=torch.Generator().manual_seed(seed),
                          sampler=sampler)  # fmt: skip

    first, again, other = run(7), run(7), run(8)
    assert first.shape == (2, 80, 40)
    assert torch.equal(first, again) and not torch.allclose(first, other)


def test_heun_and_euler_reach_the_exact_flow_endpoint():
    torch.manual_seed(0)
    mu, s = torch.randn(1, 80, 16), 0.5
    model, text = GaussianFlow(mu, s), torch.zeros(1, 384)
    z = torch.randn(1, 80, 16, generator=torch.Generator().manual_seed(3))
    exact = mu + s * z  # mel_mean 0, mel_std 1: normalised space is the log-mel

    def error(sampler, steps):
        gen = torch.Generator().manual_seed(3)
        out = sample_mel(model, text, 16, steps=steps, guidance=1.0, generator=gen, sampler=sampler)
        return (out - exact).abs().max().item()

    euler_10, euler_40 = error("euler", 10), error("euler", 40)
    heun_10, heun_40 = error("heun", 10), error("heun", 40)
    assert euler_40 < euler_10 / 3  # first order
    assert heun_40 < heun_10 / 10  # second order
    assert heun_10 < euler_10 / 5 and heun_40 < 1e-3


def test_skip_alone_is_the_exact_flow_for_gaussian_data():
    # Untrained (transformer output 0), s^2 = 0.25 everywhere: the flow maps the noise z to 0.5 z.
    model = MelDiT(DiffusionConfig(**TINY, mel_mean=[-3.0] * 80, mel_std=[2.0] * 80))
    with torch.no_grad():
        model.skip_log_var.fill_(torch.log(torch.tensor(0.25)).item())
    z = torch.randn(2, 80, 64, generator=torch.Generator().manual_seed(4))
    out = sample_mel(model, torch.randn(2, 384), 64, steps=40, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(model.normalize(out), 0.5 * z, atol=2e-3, rtol=0)


def test_dct_basis_is_orthonormal():
    basis = dct_matrix(8)
    torch.testing.assert_close(basis @ basis.T, torch.eye(8), atol=1e-6, rtol=0)
    assert torch.allclose(basis[0], torch.full((8,), 8**-0.5))


def test_skip_in_a_data_basis_is_the_exact_gaussian_flow():
    # Patches whose coordinates (DCT over frames x an orthonormal band basis) have variances s^2: the
    # untrained model carries noise coordinates z to s * z.
    torch.manual_seed(0)
    model = MelDiT(DiffusionConfig(**TINY))
    with torch.no_grad():
        model.band_basis.copy_(torch.linalg.qr(torch.randn(80, 80))[0])
        model.skip_log_var.copy_(torch.empty(8, 80).uniform_(-6.0, 2.0))
    z = torch.randn(1, 80, 64, generator=torch.Generator().manual_seed(4))
    out = sample_mel(model, torch.randn(1, 384), 64, steps=40, generator=torch.Generator().manual_seed(4))

    def coordinates(mel):
        return model.to_components(mel.view(1, 80, 8, 8).permute(0, 2, 3, 1))  # (1, T, P, M)

    expected = (model.skip_log_var / 2).exp() * coordinates(z)
    torch.testing.assert_close(coordinates(out), expected.detach(), atol=2e-2, rtol=2e-3)
    torch.testing.assert_close(model.from_components(coordinates(z)), z.view(1, 80, 8, 8).permute(0, 2, 3, 1))


def test_known_prefix_is_kept_and_only_steers_the_rest():
    torch.manual_seed(0)
    mu = torch.randn(1, 80, 32)
    flow = GaussianFlow(mu, 0.5)
    known = torch.randn(1, 80, 12) - 4
    gen = torch.Generator().manual_seed(5)
    free = sample_mel(flow, torch.zeros(1, 384), 32, steps=6, guidance=1.0, generator=gen)
    gen = torch.Generator().manual_seed(5)
    held = sample_mel(flow, torch.zeros(1, 384), 32, steps=6, guidance=1.0, generator=gen, known=known)
    torch.testing.assert_close(held[:, :, :12], known)
    # The exact flow treats every value on its own: the frames after the prefix are the free run's.
    torch.testing.assert_close(held[:, :, 12:], free[:, :, 12:])
    # A real (attending) model: the prefix is still exactly the known log-mel, in log-mel units.
    model = MelDiT(DiffusionConfig(**TINY, mel_mean=[-6.0] * 80, mel_std=[3.0] * 80))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    for sampler in ("heun", "euler"):
        out = sample_mel(model, torch.randn(1, 384), 40, steps=3, guidance=3.0,
                         generator=torch.Generator().manual_seed(1), known=known, sampler=sampler)  # fmt: skip
        torch.testing.assert_close(out[:, :, :12], known, atol=1e-5, rtol=1e-5)


def euler_by_hand(model, text, n_frames, steps, seed, velocity):
    x = torch.randn(text.shape[0], 80, n_frames, generator=torch.Generator().manual_seed(seed))
    grid = torch.linspace(0, 1, steps + 1).tolist()
    with torch.no_grad():
        for t, t_next in zip(grid[:-1], grid[1:], strict=True):
            x = x + (t_next - t) * velocity(x, torch.full((text.shape[0],), t))
    return model.denormalize(x).clamp(min=SILENCE_LOG_MEL)


def test_guidance_combines_conditional_and_unconditional():
    model, text = tiny_model(), torch.randn(2, 384)
    B = text.shape[0]
    cond = lambda x, t: model(x, t, text)  # noqa: E731
    uncond = lambda x, t: model(x, t, text, torch.ones(B, dtype=torch.bool))  # noqa: E731

    def sample(g):
        return sample_mel(model, text, 24, steps=3, guidance=g, generator=torch.Generator().manual_seed(2),
                          sampler="euler")  # fmt: skip

    torch.testing.assert_close(sample(1.0), euler_by_hand(model, text, 24, 3, 2, cond))
    torch.testing.assert_close(sample(0.0), euler_by_hand(model, text, 24, 3, 2, uncond), atol=1e-5, rtol=1e-5)
    guided = euler_by_hand(model, text, 24, 3, 2, lambda x, t: 2.5 * cond(x, t) - 1.5 * uncond(x, t))
    torch.testing.assert_close(sample(2.5), guided, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(sample(2.5), sample(1.0))


def test_nothing_below_the_log_mel_floor():
    # A model whose flow ends far below silence (mean -30 log units): the result is held at the floor.
    model = MelDiT(DiffusionConfig(**TINY, mel_mean=[-30.0] * 80))
    out = sample_mel(model, torch.randn(1, 384), 16, steps=2, generator=torch.Generator().manual_seed(0))
    assert out.min() == SILENCE_LOG_MEL and (out == SILENCE_LOG_MEL).float().mean() > 0.99


def test_progress_is_reported_each_step():
    calls = []
    sample_mel(tiny_model(), torch.randn(1, 384), 16, steps=5, guidance=2.0, generator=torch.Generator(),
               progress=lambda i, n: calls.append((i, n)))  # fmt: skip
    assert calls == [(i, 5) for i in range(1, 6)]


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"n_frames": 0}, "n_frames"),
        ({"n_frames": 65}, "n_frames"),
        ({"steps": 0}, "steps"),
        ({"guidance": float("nan")}, "guidance"),
        ({"sampler": "rk4"}, "sampler"),
        ({"known": torch.zeros(1, 80, 16)}, "known"),
    ],
)
def test_bad_sampling_requests(changes, match):
    kwargs = {"n_frames": 16, "steps": 2, "guidance": 2.0, "generator": torch.Generator()} | changes
    with pytest.raises(ValueError, match=match):
        sample_mel(tiny_model(), torch.randn(1, 384), **kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_save_load_round_trip(tmp_path, dtype):
    mean = [-6.0 + 0.05 * i for i in range(80)]
    model = tiny_model(mel_mean=mean, mel_std=[2.5] * 80)
    path = tmp_path / "diffusion" / "model.safetensors"
    path.parent.mkdir()
    save_model(model, path, KIND, extra={"step": 12}, dtype=dtype)
    loaded, meta = load_diffusion(path)
    assert meta == {"step": 12} and loaded.cfg == model.cfg and not loaded.training
    assert loaded.cfg.mel_mean == pytest.approx(mean)
    x, t, text = torch.randn(1, 80, 24), torch.rand(1), torch.randn(1, 384)
    tol = 1e-6 if dtype == torch.float32 else 5e-2
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, text), model(x, t, text), atol=tol, rtol=tol)
    a = sample_mel(model, text, 24, steps=2, generator=torch.Generator().manual_seed(0))
    b = sample_mel(loaded, text, 24, steps=2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, atol=1e-5 if dtype == torch.float32 else 0.5, rtol=0)


def test_missing_or_mismatched_weights_are_one_composer_error(tmp_path):
    with pytest.raises(ComposerError, match="not found"):
        load_diffusion(tmp_path / "nope.safetensors")
    model = tiny_model()
    path = tmp_path / "model.safetensors"
    save_model(model, path, "vocoder")
    with pytest.raises(ComposerError, match="not a mel-diffusion file"):
        load_diffusion(path)
    # The config says d_model 48 but the tensors are d_model 32's.
    save_model(model, path, KIND)
    with safe_open(str(path), framework="pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()  # noqa: SIM118
    config = json.loads(meta["config"]) | {"d_model": 48}
    save_file(tensors, str(path), metadata=meta | {"config": json.dumps(config)})
    with pytest.raises(ComposerError, match="shape"):
        load_diffusion(path)
    # A tensor missing.
    del tensors["patch_in.weight"]
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ComposerError, match="missing"):
        load_diffusion(path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ComposerError):
        load_diffusion(tmp_path / "junk.safetensors")
