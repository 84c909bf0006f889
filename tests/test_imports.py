"""`import finetrack` (and the data layer, config, structures) must not pull in torch or yolox."""
import subprocess
import sys


def test_light_imports_do_not_load_torch():
    code = (
        "import sys, finetrack, finetrack.config, finetrack.structures, finetrack.data.mot;"
        "heavy = [m for m in ('torch', 'yolox', 'torchvision', 'cv2') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout.strip()}"
