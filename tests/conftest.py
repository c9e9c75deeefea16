"""Make the test oracle (``reference.py``) importable whatever pytest's rootdir/import mode."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
