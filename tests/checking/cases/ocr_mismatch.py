# expect: ocr_mismatch
# needs: ocr
# An opaque box drawn over the second half of an annotation: the manifest has the whole text,
# a reader sees half of it.
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

fig, ax = plt.subplots()
ax.plot([0, 10], [0, 10], color="#888888")
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.set_title("Coverage")
ax.text(1, 7, "Quarterly forecast revised", fontsize=16)
ax.add_patch(Rectangle((3.0, 6.6), 5, 1.4, color="#2f6f4f", zorder=5))
