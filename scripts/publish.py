r"""Publishes a finished run as a pretrained model (docs/pretrained.md).

  python scripts/publish.py runs/fm-lenet5 --name fashion_mnist/lenet5 --out dist/

writes dist/fashion_mnist-lenet5.safetensors and the entry `fashion_mnist/lenet5` of
dist/manifest.json (created or updated). Then, anywhere:

  ZOO_PRETRAINED_MANIFEST=dist/manifest.json python -c \
      'import zoo; print(zoo.load("fashion_mnist/lenet5"))'

Upload the folder anywhere (the entry's url is relative to the manifest),
or copy it into zoo/pretrained/weights/ to ship it with the package.
"""

import argparse
import pathlib
import sys
from typing import Optional, Sequence

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import model_cards  # noqa: E402  (scripts/: the card's recipe command)
import zoo  # noqa: E402
from zoo.pretrained import publish  # noqa: E402
from zoo.report import compare  # noqa: E402


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("run", help="A finished run's workdir.")
  parser.add_argument("--name", required=True,
                      help="The pretrained name, e.g. fashion_mnist/lenet5.")
  parser.add_argument("--out", required=True,
                      help="The folder of the weights and manifest.json.")
  args = parser.parse_args(argv)
  try:
    results = compare.load_results(args.run)
    command = model_cards.command(results, args.run)
    entry = publish.publish(args.run, args.name, args.out, command)
  except zoo.ZooError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"Published {args.name} ({entry['size']:,} bytes, sha256 "
        f"{entry['sha256'][:12]}..., test accuracy "
        f"{entry['card']['test_accuracy']:.4f}) to "
        f"{pathlib.Path(args.out) / 'manifest.json'}")


if __name__ == "__main__":
  main()
