"""PyTorch-shaped names: ``chainrule.utils.data`` is ``torch.utils.data``."""
