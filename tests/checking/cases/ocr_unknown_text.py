# expect: ocr_unknown_text
# needs: ocr
# prompt: a chart stamped "CONFIDENTIAL DRAFT"
# The stamp is drawn as a path (no text element in the manifest); OCR still reads it, so the
# commitment is kept.
import matplotlib.pyplot as plt
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath

fig, ax = plt.subplots()
ax.plot([0, 10], [2, 8])
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.set_title("Pipeline")
stamp = TextPath((1, 5), "CONFIDENTIAL DRAFT", size=0.9)
ax.add_patch(PathPatch(stamp, color="black"))
