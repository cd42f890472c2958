"""Neural global forecasters. Importing this package does not import torch; fitting does."""

from fcplan.models.neural.deepar import DeepAR
from fcplan.models.neural.mlp import MLPQuantile
from fcplan.models.neural.tide import TiDE

__all__ = ["DeepAR", "MLPQuantile", "TiDE"]
