import sys
from pathlib import Path

# The sandbox is plain Python: make the repository importable without Django.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
