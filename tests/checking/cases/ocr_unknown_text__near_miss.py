# expect:
# near-miss: ocr_unknown_text
# needs: ocr
# settings: {"ocr_full_pass": "always"}
# The same chart with the stamp as ordinary text: the manifest knows everything OCR reads.
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 10], [2, 8])
ax.set_xlim(0, 10)
ax.set_ylim(0, 10)
ax.set_title("Pipeline")
ax.text(1, 5, "CONFIDENTIAL DRAFT", fontsize=26)
