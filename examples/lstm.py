"""Worked example: see chainrule/gallery/lstm.py."""
from chainrule.gallery import lstm

if __name__ == "__main__":
    lstm.main()
