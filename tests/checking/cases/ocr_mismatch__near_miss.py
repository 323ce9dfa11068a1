# expect:
# near-miss: ocr_mismatch
# needs: ocr
# The same box beside the annotation: nothing covers the text.
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

fig, ax = plt.subplots()
ax.plot([0, 10], [0, 10], color="#888888")
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.set_title("Coverage")
ax.text(1, 7, "Quarterly forecast revised", fontsize=16)
ax.add_patch(Rectangle((3.0, 2.0), 5, 1.4, color="#2f6f4f", zorder=5))
