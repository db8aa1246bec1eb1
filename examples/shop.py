"""Worked example: see chainrule/gallery/shop.py (also `chainrule explain shop`)."""
from chainrule.gallery import shop

if __name__ == "__main__":
    shop.main()
