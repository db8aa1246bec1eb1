"""Worked example: see chainrule/gallery/gate.py (also `chainrule explain gate`)."""
from chainrule.gallery import gate

if __name__ == "__main__":
    gate.main()
