"""Acceptance: junyanz/pytorch-CycleGAN-and-pix2pix (github.com/junyanz/pytorch-CycleGAN-and-pix2pix,
BSD licence, (c) 2017 Jun-Yan Zhu and Taesung Park) runs unchanged on ember.

``models/networks.py`` (commit 000f2981cd403a5b192f564234ce217e5b7dada4) is kept verbatim:
``get_norm_layer`` (``functools.partial`` of BatchNorm2d, or InstanceNorm2d with
``track_running_stats=True``), ``get_scheduler`` (LambdaLR, StepLR, ReduceLROnPlateau,
CosineAnnealingLR), ``init_weights`` through ``net.apply`` (normal, xavier, kaiming and
orthogonal on ``m.weight.data``), ``define_G`` / ``define_D``, ``GANLoss`` (buffers expanded
with ``expand_as`` into MSELoss or BCELoss), the ResNet generator (ReflectionPad2d or
ReplicationPad2d, ConvTranspose2d with ``output_padding``, or bilinear Upsample), the recursive
U-Net generator (``UnetSkipConnectionBlock``), and the PatchGAN and pixel discriminators. The
models run on tiny images and are compared with real PyTorch from the same weights: outputs,
gradients and one Adam step (betas (0.5, 0.999), as the CycleGAN model sets it), running
statistics included; the schedulers' learning rates over a few epochs are compared too.
"""

# The project's code is kept verbatim, long lines included.
# ruff: noqa: E501

import types

import numpy as np
import pytest
from acceptance_runner import run

# models/networks.py at commit 000f2981cd403a5b192f564234ce217e5b7dada4
NETWORKS = r'''import torch
import torch.nn as nn
from torch.nn import init
import functools
from torch.optim import lr_scheduler

###############################################################################
# Helper Functions
###############################################################################


def get_norm_layer(norm_type='instance'):
    if norm_type == 'batch':
        norm_layer = functools.partial(nn.BatchNorm2d, affine=True)
    elif norm_type == 'instance':
        norm_layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=True)
    elif norm_type == 'none':
        norm_layer = None
    else:
        raise NotImplementedError('normalization layer [%s] is not found' % norm_type)
    return norm_layer


def get_scheduler(optimizer, opt):
    if opt.lr_policy == 'lambda':
        def lambda_rule(epoch):
            lr_l = 1.0 - max(0, epoch + 1 + opt.epoch_count - opt.niter) / float(opt.niter_decay + 1)
            return lr_l
        scheduler = lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda_rule)
    elif opt.lr_policy == 'step':
        scheduler = lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    elif opt.lr_policy == 'plateau':
        scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.2, threshold=0.01, patience=5)
    elif opt.lr_policy == 'cosine':
        scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=opt.niter, eta_min=0)
    else:
        return NotImplementedError('learning rate policy [%s] is not implemented', opt.lr_policy)
    return scheduler


def init_weights(net, init_type='normal', gain=0.02):
    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, 'weight') and (classname.find('Conv') != -1 or classname.find('Linear') != -1):
            if init_type == 'normal':
                init.normal_(m.weight.data, 0.0, gain)
            elif init_type == 'xavier':
                init.xavier_normal_(m.weight.data, gain=gain)
            elif init_type == 'kaiming':
                init.kaiming_normal_(m.weight.data, a=0, mode='fan_in')
            elif init_type == 'orthogonal':
                init.orthogonal_(m.weight.data, gain=gain)
            else:
                raise NotImplementedError('initialization method [%s] is not implemented' % init_type)
            if hasattr(m, 'bias') and m.bias is not None:
                init.constant_(m.bias.data, 0.0)
        elif classname.find('BatchNorm2d') != -1:
            init.normal_(m.weight.data, 1.0, gain)
            init.constant_(m.bias.data, 0.0)

    print('initialize network with %s' % init_type)
    net.apply(init_func)


def init_net(net, init_type='normal', init_gain=0.02, gpu_ids=[]):
    if len(gpu_ids) > 0:
        assert(torch.cuda.is_available())
        net.to(gpu_ids[0])
        net = torch.nn.DataParallel(net, gpu_ids)
    init_weights(net, init_type, gain=init_gain)
    return net


def define_G(input_nc, output_nc, ngf, netG, norm='batch', use_dropout=False, init_type='normal', init_gain=0.02, gpu_ids=[]):
    net = None
    norm_layer = get_norm_layer(norm_type=norm)

    if netG == 'resnet_9blocks':
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9,use_deconvolution=True)
    elif netG == 'resnet_9blocks+':
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=9,use_deconvolution=False)
    elif netG == 'resnet_6blocks':
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6,use_deconvolution=True)
    elif netG == 'resnet_6blocks+':
        net = ResnetGenerator(input_nc, output_nc, ngf, norm_layer=norm_layer, use_dropout=use_dropout, n_blocks=6,use_deconvolution=False)
    elif netG == 'unet_128':
        net = UnetGenerator(input_nc, output_nc, 7, ngf, norm_layer=norm_layer, use_dropout=use_dropout)
    elif netG == 'unet_256':
        net = UnetGenerator(input_nc, output_nc, 8, ngf, norm_layer=norm_layer, use_dropout=use_dropout)
    else:
        raise NotImplementedError('Generator model name [%s] is not recognized' % netG)
    return init_net(net, init_type, init_gain, gpu_ids)


def define_D(input_nc, ndf, netD,
             n_layers_D=3, norm='batch', use_sigmoid=False, init_type='normal', init_gain=0.02, gpu_ids=[]):
    net = None
    norm_layer = get_norm_layer(norm_type=norm)

    if netD == 'basic':
        net = NLayerDiscriminator(input_nc, ndf, n_layers=3, norm_layer=norm_layer, use_sigmoid=use_sigmoid)
    elif netD == 'n_layers':
        net = NLayerDiscriminator(input_nc, ndf, n_layers_D, norm_layer=norm_layer, use_sigmoid=use_sigmoid)
    elif netD == 'pixel':
        net = PixelDiscriminator(input_nc, ndf, norm_layer=norm_layer, use_sigmoid=use_sigmoid)
    else:
        raise NotImplementedError('Discriminator model name [%s] is not recognized' % net)
    return init_net(net, init_type, init_gain, gpu_ids)


##############################################################################
# Classes
##############################################################################


# Defines the GAN loss which uses either LSGAN or the regular GAN.
# When LSGAN is used, it is basically same as MSELoss,
# but it abstracts away the need to create the target label tensor
# that has the same size as the input
class GANLoss(nn.Module):
    def __init__(self, use_lsgan=True, target_real_label=1.0, target_fake_label=0.0):
        super(GANLoss, self).__init__()
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        if use_lsgan:
            self.loss = nn.MSELoss()
        else:
            self.loss = nn.BCELoss()

    def get_target_tensor(self, input, target_is_real):
        if target_is_real:
            target_tensor = self.real_label
        else:
            target_tensor = self.fake_label
        return target_tensor.expand_as(input)

    def __call__(self, input, target_is_real):
        target_tensor = self.get_target_tensor(input, target_is_real)
        return self.loss(input, target_tensor)


# Defines the generator that consists of Resnet blocks between a few
# downsampling/upsampling operations.
# Code and idea originally from Justin Johnson's architecture.
# https://github.com/jcjohnson/fast-neural-style/
class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False, n_blocks=6, padding_type='reflect',use_deconvolution=False):
        assert(n_blocks >= 0)
        super(ResnetGenerator, self).__init__()
        self.input_nc = input_nc
        self.output_nc = output_nc
        self.ngf = ngf
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d

        model = [nn.ReflectionPad2d(3),
                 nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0,
                           bias=use_bias),
                 norm_layer(ngf),
                 nn.ReLU(True)]

        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3,
                                stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2),
                      nn.ReLU(True)]

        mult = 2**n_downsampling
        for i in range(n_blocks):
            model += [ResnetBlock(ngf * mult, padding_type=padding_type, norm_layer=norm_layer, use_dropout=use_dropout, use_bias=use_bias)]

        for i in range(n_downsampling):
            mult = 2**(n_downsampling - i)
            if use_deconvolution:
                model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2),
                             kernel_size=3, stride=2,
                             padding=1, output_padding=1,
                             bias=use_bias)]
            else:
                model += [nn.Upsample(scale_factor = 2, mode='bilinear',align_corners=True),
                          nn.ReflectionPad2d(1),
                          nn.Conv2d(ngf * mult, int(ngf * mult / 2),kernel_size=3, stride=1, padding=0)]

            model += [norm_layer(int(ngf * mult / 2)),nn.ReLU(True)]

        model += [nn.ReflectionPad2d(3)]
        model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        model += [nn.Tanh()]

        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


# Define a resnet block
class ResnetBlock(nn.Module):
    def __init__(self, dim, padding_type, norm_layer, use_dropout, use_bias):
        super(ResnetBlock, self).__init__()
        self.conv_block = self.build_conv_block(dim, padding_type, norm_layer, use_dropout, use_bias)

    def build_conv_block(self, dim, padding_type, norm_layer, use_dropout, use_bias):
        conv_block = []
        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 1
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)

        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias),
                       norm_layer(dim),
                       nn.ReLU(True)]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]

        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 1
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)
        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias),
                       norm_layer(dim)]

        return nn.Sequential(*conv_block)

    def forward(self, x):
        out = x + self.conv_block(x)
        return out


# Defines the Unet generator.
# |num_downs|: number of downsamplings in UNet. For example,
# if |num_downs| == 7, image of size 128x128 will become of size 1x1
# at the bottleneck
class UnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64,
                 norm_layer=nn.BatchNorm2d, use_dropout=False):
        super(UnetGenerator, self).__init__()

        # construct unet structure
        unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None, norm_layer=norm_layer, innermost=True)
        for i in range(num_downs - 5):
            unet_block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, input_nc=None, submodule=unet_block, norm_layer=norm_layer, use_dropout=use_dropout)
        unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None, submodule=unet_block, norm_layer=norm_layer)
        unet_block = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=unet_block, outermost=True, norm_layer=norm_layer)

        self.model = unet_block

    def forward(self, input):
        return self.model(input)


# Defines the submodule with skip connection.
# X -------------------identity---------------------- X
#   |-- downsampling -- |submodule| -- upsampling --|
class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None,
                 submodule=None, outermost=False, innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super(UnetSkipConnectionBlock, self).__init__()
        self.outermost = outermost
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4,
                             stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc,
                                        kernel_size=4, stride=2,
                                        padding=1)
            down = [downconv]
            up = [uprelu, upconv, nn.Tanh()]
            model = down + [submodule] + up
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc,
                                        kernel_size=4, stride=2,
                                        padding=1, bias=use_bias)
            down = [downrelu, downconv]
            up = [uprelu, upconv, upnorm]
            model = down + up
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc,
                                        kernel_size=4, stride=2,
                                        padding=1, bias=use_bias)
            down = [downrelu, downconv, downnorm]
            up = [uprelu, upconv, upnorm]

            if use_dropout:
                model = down + [submodule] + up + [nn.Dropout(0.5)]
            else:
                model = down + [submodule] + up

        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        else:
            return torch.cat([x, self.model(x)], 1)


# Defines the PatchGAN discriminator with the specified arguments.
class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d, use_sigmoid=False):
        super(NLayerDiscriminator, self).__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d

        kw = 4
        padw = 1
        sequence = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True)
        ]

        nf_mult = 1
        nf_mult_prev = 1
        for n in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2**n, 8)
            sequence += [
                nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult,
                          kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * nf_mult),
                nn.LeakyReLU(0.2, True)
            ]

        nf_mult_prev = nf_mult
        nf_mult = min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult,
                      kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * nf_mult),
            nn.LeakyReLU(0.2, True)
        ]

        sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]

        if use_sigmoid:
            sequence += [nn.Sigmoid()]

        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


class PixelDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, norm_layer=nn.BatchNorm2d, use_sigmoid=False):
        super(PixelDiscriminator, self).__init__()
        if type(norm_layer) == functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d

        self.net = [
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
            norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias)]

        if use_sigmoid:
            self.net.append(nn.Sigmoid())

        self.net = nn.Sequential(*self.net)

    def forward(self, input):
        return self.net(input)
'''


def _on_both(torch):
    ns = run(NETWORKS)
    ref = {"__name__": "networks", "print": lambda *a, **k: None}
    exec(compile(NETWORKS, "<networks.py>", "exec"), ref)
    assert ref["torch"] is torch
    return ns, ref


def _train_step(lib, side, net_g, net_d, real_a, real_b, lsgan):
    """One generator step as the CycleGAN/pix2pix models take it: GAN loss on D(G(a)) plus L1."""
    gan = side["GANLoss"](use_lsgan=lsgan)
    opt = lib.optim.Adam(net_g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    fake_b = net_g(real_a)
    loss = gan(net_d(fake_b), True) + lib.nn.L1Loss()(fake_b, real_b) * 10.0
    loss_d = gan(net_d(real_b), True) + gan(net_d(fake_b.detach()), False)
    opt.zero_grad()
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in net_g.named_parameters()}
    opt.step()
    return [loss.item(), loss_d.item()], fake_b.detach().numpy(), grads


@pytest.mark.parametrize("net_g,norm,net_d,size", [
    ("resnet_6blocks", "batch", "basic", 32),
    ("resnet_6blocks+", "instance", "pixel", 12),
    ("unet_128", "batch", "n_layers", 128),
])
def test_generator_and_discriminator_match_torch(net_g, norm, net_d, size):
    torch = pytest.importorskip("torch")
    ns, ref = _on_both(torch)
    ns["torch"].manual_seed(0)
    lsgan = net_d != "pixel"
    g_kwargs = dict(norm=norm, use_dropout=False, init_type="normal", init_gain=0.02)
    d_kwargs = dict(n_layers_D=2, norm=norm, use_sigmoid=not lsgan)
    ngf = 2 if net_g == "unet_128" else 4
    g = ns["define_G"](3, 3, ngf, net_g, **g_kwargs)
    d = ns["define_D"](3, 4, net_d, **d_kwargs)
    assert ns["_out"].getvalue().count("initialize network with normal") == 2
    ref_g = ref["define_G"](3, 3, ngf, net_g, **g_kwargs)
    ref_d = ref["define_D"](3, 4, net_d, **d_kwargs)
    for m, r in ((g, ref_g), (d, ref_d)):
        assert [n for n, _ in m.state_dict().items()] == list(r.state_dict())
        r.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m.state_dict().items()})
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (2, 3, size, size)).astype(np.float32) for _ in range(2))
    (losses, fake, grads), (r_losses, r_fake, r_grads) = (
        _train_step(lib, side, gm, dm, lib.tensor(a), lib.tensor(b), lsgan)
        for side, lib, gm, dm in ((ns, ns["torch"], g, d), (ref, torch, ref_g, ref_d)))
    np.testing.assert_allclose(losses, r_losses, rtol=1e-5)
    np.testing.assert_allclose(fake, r_fake, atol=1e-5)
    scale = max(np.abs(r).max() for r in r_grads.values())
    for name, r in r_grads.items():  # float32 rounding through ~20 layers: relative to the scale
        np.testing.assert_allclose(grads[name], r, atol=5e-5 * scale, err_msg=name)
    r_state = ref_g.state_dict()
    for name, v in g.state_dict().items():  # Adam's step, BatchNorm / InstanceNorm running stats
        got, want = v.numpy(), r_state[name].numpy()
        if name in r_grads:
            # Adam's first step is lr * sign(grad): where the gradient is rounding noise (a bias
            # before a norm layer) its sign, and so the step, is arbitrary on either side
            keep = np.abs(r_grads[name]) > 1e-3 * scale
            got, want = got[keep], want[keep]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=name)
    g.eval()
    ref_g.eval()
    # (those arbitrary steps move the output by up to ~1% of its size)
    np.testing.assert_allclose(g(ns["torch"].tensor(a)).detach().numpy(),
                               ref_g(torch.tensor(a)).detach().numpy(), rtol=1e-2, atol=1e-5)


def test_replicate_and_zero_padded_resnet_blocks_match_torch():
    torch = pytest.importorskip("torch")
    ns, ref = _on_both(torch)
    x = np.random.default_rng(2).standard_normal((2, 4, 5, 6)).astype(np.float32)
    for padding_type in ("replicate", "zero"):
        blocks = [side["ResnetBlock"](4, padding_type, side["get_norm_layer"]("instance"), True, True)
                  for side in (ns, ref)]
        blocks[1].load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                   for k, v in blocks[0].state_dict().items()})
        outs = []
        for lib, blk in zip((ns["torch"], torch), blocks):
            blk.eval()  # dropout off, instance-norm running statistics used
            t = lib.tensor(x, requires_grad=True)
            blk(t).pow(2).sum().backward()
            outs.append((blk(t).detach().numpy(), t.grad.numpy()))
        for got, want in zip(*outs):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(NotImplementedError, match=r"padding \[circular\] is not implemented"):
        ns["ResnetBlock"](4, "circular", ns["get_norm_layer"]("batch"), False, False)


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_weights_statistics(init_type):
    """Each init_type gives the distribution torch.nn.init documents (NumPy oracle)."""
    ns = run(NETWORKS)
    net = ns["define_D"](3, 64, "n_layers", n_layers_D=2, init_type=init_type, init_gain=0.5)
    assert f"initialize network with {init_type}" in ns["_out"].getvalue()
    conv = net.model[2]  # Conv2d(64, 128, 4): fan_in 1024, fan_out 2048
    w = conv.weight.detach().numpy().reshape(128, -1)
    std = {"normal": 0.5, "xavier": 0.5 * np.sqrt(2 / (1024 + 2048)),
           "kaiming": np.sqrt(2 / 1024)}.get(init_type)
    if std is None:  # orthogonal rows, scaled by the gain
        np.testing.assert_allclose(w @ w.T, 0.25 * np.eye(128), atol=1e-5)
    else:
        assert abs(w.std() / std - 1) < 0.05
    assert not conv.bias.detach().numpy().any() if conv.bias is not None else True
    bn = net.model[3]
    assert abs(bn.weight.detach().numpy().mean() - 1) < 0.2 and not bn.bias.detach().numpy().any()


def test_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    ns, ref = _on_both(torch)
    opt = types.SimpleNamespace(epoch_count=1, niter=3, niter_decay=4, lr_decay_iters=2)
    for policy in ("lambda", "step", "plateau", "cosine"):
        opt.lr_policy = policy
        lrs = []
        for side, lib in ((ns, ns["torch"]), (ref, torch)):
            optimizer = lib.optim.Adam([lib.zeros(2, requires_grad=True)], lr=0.1)
            scheduler = side["get_scheduler"](optimizer, opt)
            seq = []
            for _ in range(9):
                optimizer.step()
                if policy == "plateau":
                    scheduler.step(1.0)  # a flat metric: the lr drops after `patience` epochs
                else:
                    scheduler.step()
                seq.append(optimizer.param_groups[0]["lr"])
            lrs.append(seq)
        np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-12, err_msg=policy)
    opt.lr_policy = "linear"
    assert isinstance(ns["get_scheduler"](None, opt), NotImplementedError)
