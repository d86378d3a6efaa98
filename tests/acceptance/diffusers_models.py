"""Tiny random models of HuggingFace diffusers, trained a few steps: run as
``python -m ember.compat diffusers_models.py`` (torch = ember) or with real PyTorch, it prints
one JSON line per case (losses, a gradient checksum, sample statistics, save/load round trips),
for tests/acceptance and tests/conformance to check and compare.

Cases: UNets (2-D, text-conditioned, SDXL-style with gradient checkpointing, ControlNet-guided,
3-D video) and transformers (DiT, PixArt, SD3, Flux, Wan video, Sana) trained on the
noise-prediction loss, autoencoders (KL: reconstruction + KL; VQ: + commitment; tiny, DC, Wan
video: reconstruction), each with an EMAModel (two of them again under CPU autocast to
bfloat16); seventeen schedulers' sampling loops; the DDPM, DDIM and DiT pipelines. Only
diffusers' public API is used; nothing is downloaded. (Text encoders, which need transformers'
models, are left out: random ``encoder_hidden_states`` stand in for them.)
"""
import inspect
import json
import os
import sys
import tempfile

import diffusers as D
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel

STEPS = 3
BATCH = 2


def unet2d():
    return D.UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                         block_out_channels=(16, 32), norm_num_groups=8, attention_head_dim=8,
                         down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                         up_block_types=("AttnUpBlock2D", "UpBlock2D"))


CONDITIONAL_UNET = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                        block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=24)


def unet2d_condition():
    return D.UNet2DConditionModel(**CONDITIONAL_UNET, attention_head_dim=8,
                                  down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))


def unet2d_sdxl():
    """SDXL's UNet: pooled-text and size conditioning, linear projections, two transformer
    layers in a block, run with gradient checkpointing."""
    unet = D.UNet2DConditionModel(**CONDITIONAL_UNET, attention_head_dim=(2, 4),
                                  use_linear_projection=True, addition_embed_type="text_time",
                                  addition_time_embed_dim=8,
                                  projection_class_embeddings_input_dim=8 * 6 + 12,
                                  transformer_layers_per_block=(1, 2),
                                  down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                  up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    unet.enable_gradient_checkpointing()
    return unet


class ControlledUNet(torch.nn.Module):
    """A UNet guided by a ControlNet made from it, trained together."""

    def __init__(self):
        super().__init__()
        self.unet = unet2d_condition()
        self.controlnet = D.ControlNetModel.from_unet(
            self.unet, conditioning_embedding_out_channels=(8, 16))

    def forward(self, sample, timestep, encoder_hidden_states, controlnet_cond):
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                                    controlnet_cond=controlnet_cond, return_dict=False)
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                         down_block_additional_residuals=down,
                         mid_block_additional_residual=mid)


def unet3d():
    return D.UNet3DConditionModel(**CONDITIONAL_UNET, attention_head_dim=8,
                                  down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                  up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"))


def dit():
    return D.DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                   out_channels=8, num_layers=2, sample_size=8, patch_size=2)


def pixart():
    return D.PixArtTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4,
                                      out_channels=8, num_layers=2, cross_attention_dim=16,
                                      sample_size=8, patch_size=2, caption_channels=24,
                                      use_additional_conditions=False)


def sd3_transformer():
    return D.SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, out_channels=4,
                                   num_layers=2, attention_head_dim=8, num_attention_heads=2,
                                   joint_attention_dim=24, caption_projection_dim=16,
                                   pooled_projection_dim=12, pos_embed_max_size=16)


def flux():
    return D.FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1,
                                    num_single_layers=1, attention_head_dim=8,
                                    num_attention_heads=2, joint_attention_dim=24,
                                    pooled_projection_dim=12, guidance_embeds=False,
                                    axes_dims_rope=(2, 2, 4))


def wan():
    return D.WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2,
                                   attention_head_dim=8, in_channels=4, out_channels=4,
                                   text_dim=24, freq_dim=16, ffn_dim=32, num_layers=2,
                                   rope_max_seq_len=32)


def sana():
    return D.SanaTransformer2DModel(in_channels=4, out_channels=4, num_attention_heads=2,
                                    attention_head_dim=8, num_layers=2,
                                    num_cross_attention_heads=2, cross_attention_head_dim=8,
                                    cross_attention_dim=16, caption_channels=24, sample_size=8)


AUTOENCODER = dict(in_channels=3, out_channels=3, block_out_channels=(16, 32), latent_channels=4,
                   norm_num_groups=8, sample_size=16,
                   down_block_types=("DownEncoderBlock2D",) * 2,
                   up_block_types=("UpDecoderBlock2D",) * 2)


def tiny_autoencoder():
    return D.AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                             num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1),
                             latent_channels=4)


def wan_autoencoder():
    return D.AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 2], num_res_blocks=1,
                              temperal_downsample=[True], latents_mean=[0.0] * 4,
                              latents_std=[1.0] * 4)


def dc_autoencoder():
    return D.AutoencoderDC(in_channels=3, latent_channels=4, attention_head_dim=4,
                           encoder_block_types=("ResBlock", "EfficientViTBlock"),
                           decoder_block_types=("ResBlock", "EfficientViTBlock"),
                           encoder_block_out_channels=(8, 16), decoder_block_out_channels=(8, 16),
                           encoder_layers_per_block=(1, 1), decoder_layers_per_block=(1, 1),
                           encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
                           decoder_norm_types="rms_norm", decoder_act_fns="silu")


def denoising_batch(shape, flow: bool = False, **conditions) -> dict:
    """Clean latents with the noise and timesteps of DDPM's objective, drawn once so that every
    step trains on the same batch (``flow``: the model takes timesteps in [0, 1], as Flux)."""
    latents = torch.randn(BATCH, *shape)
    timesteps = torch.randint(0, 1000, (BATCH,))
    return dict(latents=latents, noise=torch.randn_like(latents), timesteps=timesteps,
                model_timesteps=timesteps / 1000 if flow else timesteps, conditions=conditions)


def noise_prediction_loss(model, batch) -> torch.Tensor:
    """DDPM's training objective: predict the noise added at a random timestep."""
    latents, noise = batch["latents"], batch["noise"]
    noisy = D.DDPMScheduler(num_train_timesteps=1000).add_noise(latents, noise,
                                                                 batch["timesteps"])
    prediction = model(noisy, timestep=batch["model_timesteps"], **batch["conditions"]).sample
    return F.mse_loss(prediction[:, :latents.shape[1]], noise)


def kl_autoencoder_loss(model, images) -> torch.Tensor:
    """Reconstruction plus a small KL term, the latent drawn with a fixed generator."""
    posterior = model.encode(images).latent_dist
    latents = posterior.sample(generator=torch.Generator().manual_seed(0))
    reconstruction = model.decode(latents).sample
    return F.mse_loss(reconstruction, images) + 1e-3 * posterior.kl().mean()


def vq_autoencoder_loss(model, images) -> torch.Tensor:
    output = model(images)
    return F.mse_loss(output.sample, images) + output.commit_loss.mean()


def reconstruction_loss(model, images) -> torch.Tensor:
    return F.mse_loss(model(images).sample, images)


def images():
    return torch.randn(BATCH, 3, 16, 16)


def text(length=5, width=24):
    return torch.randn(BATCH, length, width)


def flux_batch():
    positions = torch.arange(16)
    image_ids = torch.stack([torch.zeros(16), positions // 4, positions % 4], dim=1)
    return denoising_batch((16, 16), flow=True, encoder_hidden_states=text(),
                           pooled_projections=torch.randn(BATCH, 12), img_ids=image_ids,
                           txt_ids=torch.zeros(5, 3))


# name: (model factory, loss(model, batch), batch factory)
MODELS = {
    "unet2d": (unet2d, noise_prediction_loss, lambda: denoising_batch((3, 16, 16))),
    "unet2d-condition": (unet2d_condition, noise_prediction_loss,
                         lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text(7))),
    "unet2d-sdxl": (unet2d_sdxl, noise_prediction_loss,
                    lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text(),
                                            added_cond_kwargs={
                                                "text_embeds": torch.randn(BATCH, 12),
                                                "time_ids": torch.randn(BATCH, 6)})),
    "controlnet": (ControlledUNet, noise_prediction_loss,
                   lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text(),
                                           controlnet_cond=torch.randn(BATCH, 3, 16, 16))),
    "unet3d": (unet3d, noise_prediction_loss,
               lambda: denoising_batch((4, 3, 8, 8), encoder_hidden_states=text())),
    "dit": (dit, noise_prediction_loss,
            lambda: denoising_batch((4, 8, 8), class_labels=torch.tensor([1, 7]))),
    "pixart": (pixart, noise_prediction_loss,
               lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text(),
                                       added_cond_kwargs={"resolution": None,
                                                          "aspect_ratio": None})),
    "sd3-transformer": (sd3_transformer, noise_prediction_loss,
                        lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text(),
                                                pooled_projections=torch.randn(BATCH, 12))),
    "flux": (flux, noise_prediction_loss, flux_batch),
    "wan": (wan, noise_prediction_loss,
            lambda: denoising_batch((4, 2, 8, 8), encoder_hidden_states=text())),
    "sana": (sana, noise_prediction_loss,
             lambda: denoising_batch((4, 8, 8), encoder_hidden_states=text())),
    "autoencoder-kl": (lambda: D.AutoencoderKL(**AUTOENCODER), kl_autoencoder_loss, images),
    "vq-model": (lambda: D.VQModel(**AUTOENCODER, num_vq_embeddings=32), vq_autoencoder_loss,
                 images),
    "autoencoder-tiny": (tiny_autoencoder, reconstruction_loss, images),
    "autoencoder-dc": (dc_autoencoder, reconstruction_loss, images),
    "autoencoder-kl-wan": (wan_autoencoder, reconstruction_loss,
                           lambda: torch.randn(BATCH, 3, 5, 16, 16)),
}


def gradient_sum(model) -> float:
    return sum(p.grad.double().abs().sum().item() for p in model.parameters()
               if p.grad is not None)


def parameter_sum(parameters) -> float:
    return sum(p.double().sum().item() for p in parameters)


def train(name: str) -> dict:
    """AdamW steps on one batch; a name ending in ``-bf16-autocast`` runs the model's forward
    under CPU autocast to bfloat16."""
    base, autocast = name.removesuffix("-bf16-autocast"), name.endswith("-bf16-autocast")
    make_model, loss_of, make_batch = MODELS[base]
    torch.manual_seed(0)
    model = make_model()
    batch = make_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ema = EMAModel(model.parameters(), decay=0.9, use_ema_warmup=False)
    losses, gradsum = [], None
    for _ in range(STEPS):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_of(model, batch)
        loss.backward()
        if gradsum is None:
            gradsum = gradient_sum(model)
        optimizer.step()
        ema.step(model.parameters())
        losses.append(loss.item())
    report = {"model": name, "losses": losses, "gradsum": gradsum,
              "ema_sum": parameter_sum(ema.shadow_params)}
    report["ema_swap"] = swap_in_ema(model, ema)
    if name in ("unet2d", "autoencoder-kl", "dit"):
        report["reloaded_equal"] = round_trip(model, batch)
    return report


def swap_in_ema(model, ema) -> bool:
    """EMAModel's evaluation swap: store, copy the averages in, restore; plus a state_dict
    round trip into a fresh EMAModel."""
    trained = parameter_sum(model.parameters())
    ema.store(model.parameters())
    ema.copy_to(model.parameters())
    averaged = parameter_sum(model.parameters())
    ema.restore(model.parameters())
    copy = EMAModel(model.parameters(), decay=0.5)
    copy.load_state_dict(ema.state_dict())
    return (averaged == parameter_sum(ema.shadow_params)
            and parameter_sum(model.parameters()) == trained and copy.decay == 0.9
            and parameter_sum(copy.shadow_params) == parameter_sum(ema.shadow_params))


def round_trip(model, batch) -> list:
    """Whether a model saved (safetensors, then pickle) and loaded gives the same output."""
    model.eval()
    if isinstance(batch, dict):
        inputs = (batch["latents"],)
        options = dict(timestep=batch["timesteps"], **batch["conditions"])
    else:
        inputs, options = (batch,), {}
    with torch.no_grad():
        expected = model(*inputs, **options).sample
    equal = []
    with tempfile.TemporaryDirectory() as folder:
        for safe in (True, False):
            path = os.path.join(folder, str(safe))
            model.save_pretrained(path, safe_serialization=safe)
            loaded = type(model).from_pretrained(path).eval()
            with torch.no_grad():
                equal.append(torch.equal(loaded(*inputs, **options).sample, expected))
    return equal


SCHEDULERS = {
    "ddpm-scheduler": lambda: D.DDPMScheduler(num_train_timesteps=100),
    "ddim-scheduler": lambda: D.DDIMScheduler(num_train_timesteps=100),
    "euler-scheduler": lambda: D.EulerDiscreteScheduler(num_train_timesteps=100),
    "euler-ancestral-scheduler": D.EulerAncestralDiscreteScheduler,
    "dpm-solver-scheduler": lambda: D.DPMSolverMultistepScheduler(num_train_timesteps=100),
    "dpm-solver-karras-scheduler": lambda: D.DPMSolverMultistepScheduler(
        use_karras_sigmas=True),
    "dpm-solver-singlestep-scheduler": D.DPMSolverSinglestepScheduler,
    "pndm-scheduler": D.PNDMScheduler,
    "lms-scheduler": D.LMSDiscreteScheduler,
    "heun-scheduler": D.HeunDiscreteScheduler,
    "kdpm2-scheduler": D.KDPM2DiscreteScheduler,
    "unipc-scheduler": D.UniPCMultistepScheduler,
    "deis-scheduler": D.DEISMultistepScheduler,
    "lcm-scheduler": D.LCMScheduler,
    "tcd-scheduler": D.TCDScheduler,
    "edm-euler-scheduler": D.EDMEulerScheduler,
    "flow-match-euler-scheduler": D.FlowMatchEulerDiscreteScheduler,
}


def sample_with_scheduler(name: str) -> dict:
    """A sampling loop driven by a fixed noise 'model', after a config save/load round trip."""
    scheduler = SCHEDULERS[name]()
    with tempfile.TemporaryDirectory() as folder:
        scheduler.save_pretrained(folder)
        scheduler = type(scheduler).from_pretrained(folder)
    scheduler.set_timesteps(8)
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(BATCH, 3, 8, 8, generator=generator)
    sample = sample * getattr(scheduler, "init_noise_sigma", 1.0)
    stochastic = "generator" in inspect.signature(scheduler.step).parameters
    for t in scheduler.timesteps:
        model_input = (scheduler.scale_model_input(sample, t)
                       if hasattr(scheduler, "scale_model_input") else sample)
        noise_guess = 0.5 * model_input + 1e-4 * t.float()
        options = {"generator": generator} if stochastic else {}
        sample = scheduler.step(noise_guess, t, sample, **options).prev_sample
    return {"model": name, "timesteps": scheduler.timesteps.tolist(), **statistics(sample)}


def statistics(x) -> dict:
    x = torch.as_tensor(x).double()
    return {"mean": x.mean().item(), "std": x.std().item(), "abs_sum": x.abs().sum().item()}


def make_pipeline(name: str):
    torch.manual_seed(0)
    if name == "ddpm-pipeline":
        return D.DDPMPipeline(unet=unet2d().eval(),
                              scheduler=D.DDPMScheduler(num_train_timesteps=50)), {}
    if name == "ddim-pipeline":
        return D.DDIMPipeline(unet=unet2d().eval(),
                              scheduler=D.DDIMScheduler(num_train_timesteps=50)), {"eta": 0.5}
    # class-conditional latent diffusion with classifier-free guidance
    pipeline = D.DiTPipeline(transformer=dit().eval(), vae=D.AutoencoderKL(**AUTOENCODER).eval(),
                             scheduler=D.DDIMScheduler(num_train_timesteps=50))
    return pipeline, {"class_labels": [1, 7], "guidance_scale": 2.0}


def sample_with_pipeline(name: str) -> dict:
    """Images from a pipeline, then from the same pipeline saved and loaded again."""
    pipeline, options = make_pipeline(name)
    if "class_labels" not in options:
        options["batch_size"] = BATCH
    samples = []
    with tempfile.TemporaryDirectory() as folder:
        pipeline.save_pretrained(folder)
        for pipe in (pipeline, type(pipeline).from_pretrained(folder)):
            pipe.set_progress_bar_config(disable=True)
            samples.append(pipe(generator=torch.Generator().manual_seed(0),
                                num_inference_steps=4, output_type="np", **options).images)
    return {"model": name, "shape": list(samples[0].shape),
            **statistics(torch.from_numpy(samples[0])),
            "reloaded_equal": bool((samples[0] == samples[1]).all())}


AUTOCAST = ("unet2d-condition-bf16-autocast", "sd3-transformer-bf16-autocast")
CASES = {**{name: train for name in (*MODELS, *AUTOCAST)},
         **{name: sample_with_scheduler for name in SCHEDULERS},
         **{name: sample_with_pipeline for name in ("ddpm-pipeline", "ddim-pipeline",
                                                    "dit-pipeline")}}


def main() -> None:
    for name in sys.argv[1:] or CASES:
        try:
            report = CASES[name](name)
        except Exception as error:  # reported, so that one failure does not hide the others
            report = {"model": name, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
