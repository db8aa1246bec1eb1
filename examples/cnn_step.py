"""Worked example: see chainrule/gallery/cnn_step.py."""
from chainrule.gallery import cnn_step

if __name__ == "__main__":
    cnn_step.main()
