"""Worked example: see chainrule/gallery/linear.py (also `chainrule explain linear`)."""
from chainrule.gallery import linear

if __name__ == "__main__":
    linear.main()
