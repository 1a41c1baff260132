"""The judge: a classifier trained on a data set's own labelled clips, which hears waveforms.

Generated audio has no labels, so its quality is measured the way images are: a classifier
trained on real clips judges it (Inception Score, Fréchet distance of its features, accuracy of
class-conditional samples; see `tfp_audio_vae.evaluation.metrics`). Each data set gets its own:
FSDD's hears digits, SC09's its ten words, a folder's its sub-folders' classes.

- `network`: the CNN (`build_judge`, its layers `LogMel` and `WaveAugment`) and `Judge`, a
  trained network with NumPy in and out.
- `training`: `train_judge`, on waveforms and their labels.
- `cache`: `get_judge` (the cached judge of a data set, trained on first use), `judge_path`,
  `fingerprint` (of a file list), `content_fingerprint` (of what the files hold), `save_judge`,
  `load_judge`.
- ``python -m tfp_audio_vae.evaluation.judge``: trains and caches FSDD's judge (`__main__`).

#### Examples

```python
judge = get_judge()                        # FSDD's cached judge, or train it (minutes)
judge.accuracy(test_waves, test_labels)    # its accuracy on the FSDD test clips
judge.features(test_waves).shape           # (300, 128)
```
"""

from tfp_audio_vae.evaluation.judge.cache import (
    content_fingerprint,
    fingerprint,
    get_judge,
    judge_epochs,
    judge_path,
    load_judge,
    save_judge,
)
from tfp_audio_vae.evaluation.judge.network import (
    FEATURES_LAYER,
    JUDGE_VERSION,
    NUM_SAMPLES,
    SAMPLE_RATE,
    Judge,
    LogMel,
    WaveAugment,
    build_judge,
)
from tfp_audio_vae.evaluation.judge.training import train_judge

__all__ = [
    "FEATURES_LAYER",
    "JUDGE_VERSION",
    "NUM_SAMPLES",
    "SAMPLE_RATE",
    "Judge",
    "LogMel",
    "WaveAugment",
    "build_judge",
    "content_fingerprint",
    "fingerprint",
    "get_judge",
    "judge_epochs",
    "judge_path",
    "load_judge",
    "save_judge",
    "train_judge",
]
