"""Worked example: see chainrule/gallery/sigmoid.py (also `chainrule explain sigmoid`)."""
from chainrule.gallery import sigmoid

if __name__ == "__main__":
    sigmoid.main()
