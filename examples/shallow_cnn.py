"""Worked example: see chainrule/gallery/shallow_cnn.py."""
from chainrule.gallery import shallow_cnn

if __name__ == "__main__":
    shallow_cnn.main()
