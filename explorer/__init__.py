"""AnchorAL Explorer: see and run AnchorAL active learning on large, imbalanced text pools."""

__version__ = "0.1.0"
