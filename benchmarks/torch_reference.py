r"""PyTorch reference: the zoo's models, hand-written training loop, CPU.

  /tmp/venv-torch/bin/python benchmarks/torch_reference.py --model mlp \
      --batch 128 --mode eager          # or --mode compile (torch.compile)

Needs torch only (`pip install torch==2.13.0` in its own venv, or the
`benchmarks` extra). Same synthetic MNIST-shaped data, Adam(1e-3), the same
architectures as zoo/models (average pooling, NCHW, BatchNorm in training
mode), a new random order each epoch; timed as in windows.py. Prints one JSON line.
"""

import argparse
import json
import os
import time

import torch
from torch import nn
import torch.nn.functional as F

from windows import Windows


class BasicBlock(nn.Module):
  """zoo/models/resnet.py's block: conv-BN-ReLU-conv-BN + option-A shortcut."""

  def __init__(self, cin: int, cout: int, stride: int):
    super().__init__()
    self.conv0 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn0 = nn.BatchNorm2d(cout)
    self.conv1 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.stride, self.extra = stride, cout - cin

  def forward(self, x):
    out = F.relu(self.bn0(self.conv0(x)))
    out = self.bn1(self.conv1(out))
    shortcut = x[:, :, ::self.stride, ::self.stride]
    if self.extra:
      shortcut = F.pad(shortcut, (0, 0, 0, 0, self.extra // 2,
                                  self.extra - self.extra // 2))
    return F.relu(out + shortcut)


def resnet20(c: int, num_classes: int, width: int = 16) -> nn.Module:
  """He et al. 2016's CIFAR ResNet-20, as zoo/models/resnet.py builds it."""
  layers = [nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU()]
  cin = width
  for i, cout in enumerate((width, 2 * width, 4 * width)):
    for j in range(3):
      layers.append(BasicBlock(cin, cout, 2 if i > 0 and j == 0 else 1))
      cin = cout
  layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
             nn.Linear(cin, num_classes)]
  return nn.Sequential(*layers)


class ViT(nn.Module):
  """zoo/models/vit.py's vit_tiny: 4x4 patches, width 128, depth 4, 4 heads,
  MLP 256, pre-LayerNorm blocks, class token."""

  def __init__(self, shape, num_classes, patch=4, width=128, depth=4,
               heads=4, mlp=256):
    super().__init__()
    h, w, c = shape
    self.embed = nn.Conv2d(c, width, patch, patch)
    self.cls = nn.Parameter(torch.zeros(1, 1, width))
    self.pos = nn.Parameter(
        0.02 * torch.randn(1, (h // patch) * (w // patch) + 1, width))
    self.blocks = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(width, heads, mlp, dropout=0.0,
                                   activation="gelu", batch_first=True,
                                   norm_first=True),
        depth, enable_nested_tensor=False)
    self.norm = nn.LayerNorm(width)
    self.head = nn.Linear(width, num_classes)

  def forward(self, x):
    x = self.embed(x).flatten(2).transpose(1, 2)  # [b, patches, width]
    x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
    return self.head(self.norm(self.blocks(x))[:, 0])


def build(model: str, shape: tuple[int, ...], num_classes: int = 10
          ) -> nn.Module:
  """logistic, mlp (512-512), cnn (conv32-pool-conv64-pool-256), lenet5
  (tanh), resnet20 or vit_tiny: zoo/models' architectures and defaults."""
  flat = 1
  for d in shape:
    flat *= d
  if model == "logistic":
    return nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes))
  if model == "mlp":
    return nn.Sequential(nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(),
                         nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, num_classes))
  if model == "cnn":
    h, w, c = shape
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 256), nn.ReLU(),
        nn.Linear(256, num_classes))
  if model == "lenet5":
    h, w, c = shape
    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2), 120),
        nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))
  if model == "resnet20":
    return resnet20(shape[-1], num_classes)
  if model == "vit_tiny":
    return ViT(shape, num_classes)
  raise ValueError(f"unknown model {model!r}")


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("--model", default="mlp")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--mode", choices=("eager", "compile"), default="eager")
  p.add_argument("--shape", default="28,28,1")
  p.add_argument("--device", default="cpu", help="cpu or cuda.")
  p.add_argument("--precision", choices=("float32", "bfloat16"),
                 default="float32", help="bfloat16: torch.autocast.")
  p.add_argument("--num_examples", type=int, default=60000)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--window_s", type=float, default=3.0)
  p.add_argument("--warmup_s", type=float, default=1.0)
  args = p.parse_args()
  torch.manual_seed(0)
  shape = tuple(int(d) for d in args.shape.split(","))
  n, b = args.num_examples, args.batch
  x_all = torch.rand(n, *shape)
  if len(shape) == 3:  # NHWC -> NCHW, torch's native layout.
    x_all = x_all.permute(0, 3, 1, 2).contiguous()
  y_all = torch.randint(0, 10, (n,))
  x_all, y_all = x_all.to(args.device), y_all.to(args.device)
  model = build(args.model, shape).to(args.device)
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)
  low = args.precision == "bfloat16"

  def loss_fn(x, y):
    with torch.autocast(args.device, torch.bfloat16, enabled=low):
      return F.cross_entropy(model(x), y)

  if args.mode == "compile":
    loss_fn = torch.compile(loss_fn)
  sync = torch.cuda.synchronize if args.device == "cuda" else lambda: None
  timer = Windows(args.windows, args.window_s, args.warmup_s, b, sync)
  t_start = time.perf_counter()
  step, done = 0, False
  while not done:
    perm = torch.randperm(n, device=args.device)
    steps = n // b
    for i in range(steps):
      idx = perm[i * b:(i + 1) * b]
      opt.zero_grad(set_to_none=True)
      loss = loss_fn(x_all[idx], y_all[idx])
      loss.backward()
      opt.step()
      step += 1
      if timer.tick(step, epoch_done=(i == steps - 1)):
        done = True
        break
  print(json.dumps({
      "impl": f"torch_{args.mode}", "model": args.model, "batch": b,
      "device": args.device, "precision": args.precision,
      "num_devices": 1, "threads": torch.get_num_threads(),
      "ex_per_s": round(timer.median, 1),
      "window_ex_per_s": [round(r, 1) for r in timer.rates],
      "time_to_first_step_s": round(timer.first_step_s, 2),
      "wall_s": round(time.perf_counter() - t_start, 1),
      "torch": torch.__version__, "load_avg_1m": round(os.getloadavg()[0], 2),
      "unix_time": round(time.time())}), flush=True)


if __name__ == "__main__":
  main()
