"""One-off: add the Shapley background sample (``explain_background``) to a committed model card.

Cards written by ``train_model`` since issue #13 have it; ``huber-blend-v1`` predates it. The
sample is drawn from the training data exactly as training draws it (``_explain_background``),
and only the card changes: the artifact, and so its sha256 in the card, stay as they are.

    .venv/bin/python scripts/card_add_explain_background.py \\
        --data ../shared/data/insurance.csv predictor/artifacts/huber-blend-v1.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from predictor.ml.training import _explain_background, data_read  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the training CSV the card names")
    parser.add_argument("card", type=Path)
    args = parser.parse_args()
    from predictor.ml.artifacts import file_sha256

    card = json.loads(args.card.read_text())
    if file_sha256(args.data) != card["data"]["sha256"]:
        sys.exit(f"{args.data} is not the data {card['name']} was trained on (sha256 differs from the card's).")
    card["explain_background"] = _explain_background(data_read([args.data]))
    args.card.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{args.card}: explain_background with {len(card['explain_background']['rows'])} rows")


if __name__ == "__main__":
    main()
