# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Networks: shapes, torchvision key names, ImageNet loading, the DepthNet view, gradients."""

import copy
import io

import pytest
import torch

from adds_training.geometry import pixel_intrinsics
from adds_training.losses import LossWeights
from adds_training.networks import ADDSModel, DepthNet, ModelConfig
from adds_training.networks.resnet import load_imagenet_weights, ResNet
from adds_training.objectives import compute_adds_losses, compute_monodepth2_losses, Objective


@pytest.fixture(autouse=True)
def one_thread():
    """Deterministic, and fast on a shared 2-core machine (no thread oversubscription)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def make_batch(batch: int, height: int, width: int) -> dict:
    """Random day/night triplets with RobotCar-like intrinsics."""
    def frames():
        return {f: torch.rand(batch, 3, height, width) for f in (0, -1, 1)}
    k_norm = torch.tensor([[0.768, 0, 0.503], [0, 1.536, 0.521], [0, 0, 1]])
    k = pixel_intrinsics(k_norm, width, height).expand(batch, 4, 4).contiguous()
    return {'day': frames(), 'night': frames(), 'K': k, 'inv_K': torch.linalg.inv(k)}


@pytest.mark.parametrize('height,width', [(64, 64), (96, 160), (128, 256)])
def test_depth_net_shapes_at_several_resolutions(height, width):
    net = DepthNet().eval()
    with torch.no_grad():
        disps = net(torch.rand(2, 3, height, width))
    assert [tuple(d.shape) for d in disps] == [
        (2, 1, height // 2 ** s, width // 2 ** s) for s in range(4)]
    assert all(float(d.min()) > 0 and float(d.max()) < 1 for d in disps)


@pytest.mark.parametrize('num_layers,keys,count,channels', [
    (18, ['layer4.1.bn2.running_var'], 120, [64, 64, 128, 256, 512]),
    (34, ['layer3.5.conv2.weight', 'layer4.0.downsample.1.bias'], 216,
     [64, 64, 128, 256, 512]),
    (50, ['layer1.0.conv3.weight', 'layer1.0.downsample.0.weight'], 318,
     [64, 256, 512, 1024, 2048]),
])
def test_resnet_keys_match_torchvision(num_layers, keys, count, channels):
    # torchvision's resnet18/34/50 state_dicts have 122/218/320 keys, 2 of them fc.*
    net = ResNet(num_layers)
    state = net.state_dict()
    assert len(state) == count and all(k in state for k in keys)
    assert net.num_ch_enc == channels
    features = net(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in features] == channels


def test_imagenet_weights_widened_for_pose_pairs(tmp_path):
    source = ResNet(18).eval()
    state = dict(source.state_dict())
    state.update({'fc.weight': torch.zeros(1000, 512), 'fc.bias': torch.zeros(1000)})
    path = tmp_path / 'resnet18.pth'
    torch.save(state, path)
    pair = ResNet(18, num_input_images=2).eval()
    load_imagenet_weights(pair, path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        # duplicated and halved first conv: a pair of identical frames acts like one frame
        assert torch.allclose(pair(torch.cat([x, x], 1))[-1], source(x)[-1], atol=1e-5)
    assert torch.equal(pair.conv1.weight, torch.cat([source.conv1.weight] * 2, 1) / 2)


def test_imagenet_weights_reject_wrong_file(tmp_path):
    path = tmp_path / 'bad.pth'
    torch.save({'something': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='conv1.weight'):
        load_imagenet_weights(ResNet(18), path)
    with pytest.raises(FileNotFoundError):
        load_imagenet_weights(ResNet(18), tmp_path / 'missing.pth')


def test_model_pretrained_path_initialises_every_resnet(tmp_path):
    path = tmp_path / 'resnet18.pth'
    reference = ResNet(18).state_dict()
    torch.save(reference, path)
    model = ADDSModel(ModelConfig(stem='per_domain', pretrained_path=str(path)))
    for resnet in (model.invariant.encoder, model.private['day'], model.private['night']):
        assert torch.equal(resnet.layer4[1].conv2.weight, reference['layer4.1.conv2.weight'])
    assert torch.equal(model.invariant.night_conv1.weight, reference['conv1.weight'])
    assert torch.equal(model.pose_encoder.layer2[0].conv1.weight,
                       reference['layer2.0.conv1.weight'])


def test_depth_net_is_a_view_of_the_model():
    model = ADDSModel().eval()
    net = model.depth_net()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = net(x)[0].clone()
        assert torch.equal(before, model.depth(model.invariant_features(x))[0])
        model.depth_decoder.decoder[10].conv.bias.add_(1.0)
        assert not torch.equal(before, net(x)[0])
    ids = {id(p) for p in model.parameters()}
    assert all(id(p) in ids for p in net.parameters())


def test_per_domain_stem_selects_the_night_stem():
    model = ADDSModel(ModelConfig(stem='per_domain')).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        day, night = model.depth_net('day')(x)[0], model.depth_net('night')(x)[0]
        shared = ADDSModel().eval()
        assert torch.equal(shared.depth_net('day')(x)[0], shared.depth_net('night')(x)[0])
    assert not torch.allclose(day, night)
    assert model.depth_net('night').stem == 'night'
    with pytest.raises(ValueError, match='domain'):
        model.depth_net('dusk')
    with pytest.raises(ValueError, match='stem'):
        DepthNet(stem='evening')


def test_pose_outputs_axisangle_and_translation():
    model = ADDSModel().eval()
    with torch.no_grad():
        axisangle, translation = model.pose(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    assert axisangle.shape == (2, 3) and translation.shape == (2, 3)


def test_depth_net_exports_to_onnx():
    ort = pytest.importorskip('onnxruntime')
    net = DepthNet().eval()
    x = torch.rand(1, 3, 64, 64)
    buffer = io.BytesIO()
    torch.onnx.export(net, x, buffer, dynamo=False, opset_version=17, input_names=['image'])
    session = ort.InferenceSession(buffer.getvalue())
    outputs = session.run(None, {'image': x.numpy()})
    with torch.no_grad():
        expected = net(x)
    assert all(torch.allclose(torch.from_numpy(o), e, atol=1e-5)
               for o, e in zip(outputs, expected))


def _group(name: str) -> str:
    """Parameter name -> the part of the model it belongs to."""
    if name.startswith(('invariant.encoder.conv1', 'invariant.encoder.bn1')):
        return 'day_stem'
    if name.startswith('invariant.night_'):
        return 'night_stem'
    parts = name.split('.')
    return '.'.join(parts[:2]) if parts[0] in ('invariant', 'private', 'private_code') \
        else parts[0]


def _reached(loss, model) -> set:
    named = list(model.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in named], retain_graph=True,
                                allow_unused=True)
    return {_group(name) for (name, _), g in zip(named, grads)
            if g is not None and g.abs().sum() > 0}


def test_each_loss_trains_only_its_parameters():
    model = ADDSModel(ModelConfig(stem='per_domain'))
    terms = compute_adds_losses(model, make_batch(1, 64, 64))
    trunk = 'invariant.encoder'
    # similarity detaches the day disparity: the day stem gets nothing
    assert _reached(terms['similarity'], model) == {trunk, 'night_stem', 'depth_decoder'}
    assert _reached(terms['reconstruction/day'], model) == {
        'private.day', trunk, 'day_stem', 'recon_decoder'}
    assert _reached(terms['orthogonality_code/night'], model) == {
        'private.night', trunk, 'night_stem', 'private_code.night', 'invariant_code'}
    assert _reached(terms['orthogonality_gram/day'], model) == {
        'private.day', trunk, 'day_stem'}
    assert _reached(terms['view_synthesis/night'], model) == {
        trunk, 'night_stem', 'depth_decoder', 'pose_encoder', 'pose_decoder'}


def test_day_branch_uses_day_frames():
    model = ADDSModel().eval()
    batch = make_batch(1, 64, 64)
    day = compute_monodepth2_losses(model, batch, domain='day')['loss']
    terms = compute_adds_losses(model, batch)
    assert torch.allclose(terms['view_synthesis/day'], day)
    assert not torch.allclose(terms['view_synthesis/day'], terms['view_synthesis/night'])


def test_augmented_frames_feed_the_networks_and_bad_batches_are_named():
    model = ADDSModel().eval()
    batch = make_batch(1, 64, 64)
    plain = compute_monodepth2_losses(model, batch)['loss']
    same = Objective(model, 'monodepth2')(dict(batch, day_aug=batch['day']))['loss']
    assert torch.allclose(plain, same)
    darker = {f: 0.5 * v for f, v in batch['day'].items()}
    assert not torch.allclose(plain, compute_monodepth2_losses(
        model, dict(batch, day_aug=darker))['loss'])
    with pytest.raises(KeyError, match='lacks frame ids'):
        compute_monodepth2_losses(model, dict(batch, day={0: batch['day'][0]}))
    with pytest.raises(KeyError, match='night'):
        compute_adds_losses(model, {k: v for k, v in batch.items() if k != 'night'})


@pytest.mark.slow
def test_one_adds_training_step_at_128x256():
    model = ADDSModel()
    optimiser = torch.optim.Adam(model.parameters(), 1e-4)
    terms = compute_adds_losses(model, make_batch(1, 128, 256), LossWeights())
    assert set(terms) >= {'similarity', 'reconstruction/night', 'loss'}
    assert torch.isfinite(terms['loss']) and torch.allclose(
        terms['loss'], sum(v for k, v in terms.items() if k != 'loss'))
    before = model.depth_decoder.decoder[10].conv.weight.clone()
    optimiser.zero_grad()
    terms['loss'].backward()
    optimiser.step()
    assert not torch.equal(before, model.depth_decoder.decoder[10].conv.weight)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.gpu
def test_training_step_on_cuda():
    model = ADDSModel().cuda()
    batch = make_batch(2, 64, 128)
    batch = {k: ({f: t.cuda() for f, t in v.items()} if isinstance(v, dict) else v.cuda())
             for k, v in batch.items()}
    terms = compute_adds_losses(model, batch)
    terms['loss'].backward()
    assert terms['loss'].device.type == 'cuda' and torch.isfinite(terms['loss'])
    assert model.depth_decoder.decoder[10].conv.weight.grad is not None


def test_image_statistics_are_batchnorm_on_a_batch_of_one():
    """use_image_statistics: each image normalised with its own statistics, weights kept."""
    from adds_training.networks import use_image_statistics

    torch.manual_seed(0)
    net = ADDSModel().depth_net()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    images = torch.rand(2, 3, 64, 64)
    images[1] *= 0.2
    with torch.no_grad():
        net.train()                 # BatchNorm with the batch's statistics: one image at a time
        expected = torch.cat([net(images[i:i + 1])[0] for i in range(2)])
        converted = use_image_statistics(copy.deepcopy(net)).eval()
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in converted.modules())
        torch.testing.assert_close(converted(images)[0], expected, rtol=1e-4, atol=1e-6)
        net.eval()                  # the running statistics give another answer
        assert not torch.allclose(net(images)[0], expected, atol=1e-3)
