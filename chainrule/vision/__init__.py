"""torchvision-shaped names: ``chainrule.vision.datasets`` and ``chainrule.vision.transforms``."""
