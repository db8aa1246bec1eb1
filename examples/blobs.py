"""Worked example: see chainrule/gallery/blobs.py."""
from chainrule.gallery import blobs

if __name__ == "__main__":
    blobs.main()
