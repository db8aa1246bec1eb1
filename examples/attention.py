"""Worked example: see chainrule/gallery/attention.py."""
from chainrule.gallery import attention

if __name__ == "__main__":
    attention.main()
