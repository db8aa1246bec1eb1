"""Worked example: see chainrule/gallery/neuron.py."""
from chainrule.gallery import neuron

if __name__ == "__main__":
    neuron.main()
